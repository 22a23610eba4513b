from collections.abc import Callable

import numpy as np
import pytest
import torch

from leapfactual.morpho import MEASUREMENTS, measure
from leapfactual.morpho._images import upscale
from leapfactual.morpho.skeleton import distance_transform, medial_axis


def one(image: np.ndarray, **options) -> dict[str, float]:
    return {k: float(v[0]) for k, v in measure(image, **options).items()}


@pytest.mark.parametrize("width", [2, 3, 4, 5])
def test_bar_has_its_drawn_size(width: int, draw_bar: Callable[..., np.ndarray]) -> None:
    m = one(draw_bar(width, height=20))
    assert set(m) == set(MEASUREMENTS)
    assert m["area"] == pytest.approx(20 * width, rel=0.01)
    # 1 % of the pixels lies outside the box on each side (bound_frac = 0.02)
    assert m["width"] == pytest.approx(0.98 * width, rel=0.02)
    assert m["height"] == pytest.approx(0.98 * 20, rel=0.02)
    assert m["thickness"] == pytest.approx(width, abs=0.25)
    assert m["slant"] == pytest.approx(0.0, abs=1e-9)
    # the medial axis of a bar: its mid-line plus short forks into the corners
    assert 20 - width <= m["length"] <= 20 + width


def test_thicker_stroke_measures_thicker(draw_bar: Callable[..., np.ndarray]) -> None:
    values = [one(draw_bar(w))["thickness"] for w in (1, 2, 3, 4, 5, 6)]
    assert np.all(np.diff(values) > 0.5)


@pytest.mark.parametrize("shift", [0.2, 0.4])
def test_slant_sign_positive_leans_right(shift: float, draw_bar: Callable[..., np.ndarray]) -> None:
    right = one(draw_bar(3, shift=shift))["slant"]
    left = one(draw_bar(3, shift=-shift))["slant"]
    assert right > 0 > left
    assert right == pytest.approx(np.arctan(shift), abs=0.03)
    assert left == pytest.approx(-right, abs=1e-9)


def test_bounding_box_follows_the_slant(draw_bar: Callable[..., np.ndarray]) -> None:
    # a sheared bar is still about as wide as drawn, not as wide as its upright box
    m = one(draw_bar(3, shift=0.4))
    assert m["width"] < 4.0
    assert m["height"] == pytest.approx(0.98 * 20, rel=0.02)


def test_scale_and_units(draw_bar: Callable[..., np.ndarray]) -> None:
    image = draw_bar(4)
    fine, coarse = one(image, scale=4), one(image, scale=2)
    for name in ("area", "width", "height"):
        assert fine[name] == pytest.approx(coarse[name], rel=0.05)


def test_empty_image_gives_zero_area_and_nan(draw_bar: Callable[..., np.ndarray]) -> None:
    batch = np.stack([np.zeros((28, 28), np.float32), draw_bar(3), np.full((28, 28), 0.3)])
    m = measure(batch)
    for i in (0, 2):
        assert m["area"][i] == 0 and m["length"][i] == 0
        for name in ("thickness", "slant", "width", "height"):
            assert np.isnan(m[name][i])
    assert np.all(np.isfinite([m[name][1] for name in MEASUREMENTS]))


def test_layouts_types_and_chunks_agree(mnist: np.ndarray) -> None:
    x = mnist[:40]
    ref = measure(x)
    as_tensor = measure(torch.from_numpy(x)[:, None].double())
    chunked = measure(x, chunk_size=7)
    single = measure(x[5])
    for name in MEASUREMENTS:
        assert ref[name].shape == (40,)
        assert ref[name].dtype == np.float64
        np.testing.assert_allclose(as_tensor[name], ref[name], rtol=1e-6)
        np.testing.assert_array_equal(chunked[name], ref[name])
        assert single[name][0] == pytest.approx(ref[name][5], rel=1e-9)


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="divide 0-255"):
        measure(np.full((2, 28, 28), 255.0))
    with pytest.raises(ValueError, match=r"\[B, 1, H, W\]"):
        measure(np.zeros((2, 3, 28, 28)))
    with pytest.raises(ValueError, match="threshold"):
        measure(np.zeros((1, 28, 28)), threshold=1.5)
    with pytest.raises(ValueError, match="scale"):
        measure(np.zeros((1, 28, 28)), scale=0)


def test_empty_batch() -> None:
    m = measure(np.zeros((0, 28, 28), np.float32))
    assert all(m[name].shape == (0,) for name in MEASUREMENTS)


def test_medial_axis_matches_scikit_image(mnist: np.ndarray) -> None:
    skimage_morphology = pytest.importorskip("skimage.morphology")
    binary = upscale(mnist[:30], 4) >= 0.5
    distance = distance_transform(binary)
    ours = medial_axis(binary, distance)
    for i in range(len(binary)):
        ref, ref_distance = skimage_morphology.medial_axis(binary[i], return_distance=True, rng=0)
        np.testing.assert_array_equal(ours[i], ref)
        np.testing.assert_allclose(distance[i], ref_distance, rtol=1e-6)


def test_mnist_measurements_are_plausible(mnist: np.ndarray) -> None:
    m = measure(mnist[:500])
    assert all(np.isfinite(m[name]).all() for name in MEASUREMENTS)
    assert 2.0 < m["thickness"].mean() < 3.5
    assert 0.0 < m["slant"].mean() < 0.3  # MNIST leans right on average, by a few degrees
    assert 30 < m["length"].mean() < 60
    assert 17 < m["height"].mean() < 20.5
    assert 8 < m["width"].mean() < 16
    assert 70 < m["area"].mean() < 140
