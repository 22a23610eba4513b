from collections.abc import Callable

import numpy as np
import pytest
import torch
from scipy import ndimage as ndi

from leapfactual.morpho import fracture, measure, set_thickness, swell, thicken, thin
from leapfactual.morpho._images import upscale

Bar = Callable[..., np.ndarray]


def thickness(images: np.ndarray) -> np.ndarray:
    return measure(images)["thickness"]


def pieces(image: np.ndarray) -> int:
    """Connected parts of the shape that measure() sees (upsampled, binarised)."""
    return ndi.label(upscale(image[None], 4)[0] >= 0.5, np.ones((3, 3)))[1]


def test_thin_and_thicken_scale_the_thickness(mnist: np.ndarray) -> None:
    x = mnist[:60]
    before = thickness(x)
    thinner, thicker = thickness(thin(x, 0.5)), thickness(thicken(x, 1.0))
    assert np.all(thinner < before)
    assert np.all(thicker > before)
    # amount is relative to each digit's own thickness: about (1 -+ amount) * T
    assert np.median(thinner / before) == pytest.approx(0.5, abs=0.1)
    assert np.median(thicker / before) == pytest.approx(2.0, abs=0.25)


def test_thicken_a_bar(draw_bar: Bar) -> None:
    bar = draw_bar(2)
    assert thickness(thicken(bar, 1.0))[0] == pytest.approx(4.0, abs=0.3)
    assert measure(thin(draw_bar(4), 0.5))["width"][0] == pytest.approx(0.98 * 2, abs=0.3)


@pytest.mark.parametrize("target", [1.5, 3.0, 5.0])
def test_set_thickness_hits_the_target(mnist: np.ndarray, target: float) -> None:
    x = mnist[100:140]
    error = np.abs(thickness(set_thickness(x, target)) - target)
    assert np.median(error) < 0.05
    assert np.mean(error < 0.25) >= 0.9


def test_set_thickness_per_image_targets(draw_bar: Bar, mnist: np.ndarray) -> None:
    x = np.stack([draw_bar(3), mnist[0], mnist[1]])
    targets = np.array([2.0, 4.0, 2.5])
    np.testing.assert_allclose(thickness(set_thickness(x, targets)), targets, atol=0.1)
    with pytest.raises(ValueError, match="2 thickness targets for 3 images"):
        set_thickness(x, targets[:2])
    with pytest.raises(ValueError, match="positive"):
        set_thickness(x, -1.0)


def test_set_thickness_is_a_counterfactual_of_thickness_only(mnist: np.ndarray) -> None:
    x = mnist[200:240]
    before, after = measure(x), measure(set_thickness(x, 3.5))
    # the shape's extent barely moves while its thickness is set
    assert np.median(np.abs(after["height"] - before["height"])) < 1.0
    assert np.median(np.abs(after["slant"] - before["slant"])) < 0.05


def test_swell_is_local_seeded_and_grows_the_digit(mnist: np.ndarray) -> None:
    x = mnist[:30]
    a, b, c = swell(x, 3.0, seed=1), swell(x, 3.0, seed=1), swell(x, 3.0, seed=2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.mean(measure(a)["area"] > measure(x)["area"]) > 0.9
    # strength 1 is the identity warp: the digit is only re-rendered, like thin by 0
    np.testing.assert_allclose(swell(x, 1.0, seed=1), thin(x, 0.0), atol=1e-6)
    # a swelling touches only a disk of the given radius around one point
    changed = np.abs(a - thin(x, 0.0)) > 1e-6
    for mask in changed:
        rows, cols = np.nonzero(mask)
        if len(rows):
            assert max(np.ptp(rows), np.ptp(cols)) <= 2 * 7 + 2


def test_fracture_cuts_a_bar_in_two(draw_bar: Bar) -> None:
    bars = np.stack([draw_bar(3, height=20)] * 4)
    for seed in range(3):
        cut = fracture(bars, seed=seed)
        assert all(pieces(image) == 2 for image in cut)
    np.testing.assert_array_equal(fracture(bars, seed=5), fracture(bars, seed=5))
    # each image draws its own cut
    assert not all(np.array_equal(cut[0], image) for image in cut[1:])


def test_fracture_digits(mnist: np.ndarray) -> None:
    x = mnist[:30]
    cut = fracture(x, seed=0, cuts=2)
    np.testing.assert_array_equal(cut, fracture(x, seed=0, cuts=2))
    assert np.all(measure(cut)["area"] < measure(x)["area"])
    # a result does not depend on the other images of the batch
    np.testing.assert_array_equal(fracture(x[:10], seed=0, cuts=2), cut[:10])


def test_types_and_empty_images(mnist: np.ndarray) -> None:
    x = torch.from_numpy(mnist[:3]).double()[:, None]
    x[1] = 0.0
    for op in (
        lambda t: thin(t, 0.3),
        lambda t: thicken(t, 0.5),
        lambda t: swell(t, 2.0, seed=0),
        lambda t: fracture(t, seed=0),
        lambda t: set_thickness(t, 2.0),
    ):
        out = op(x)
        assert isinstance(out, torch.Tensor)
        assert out.shape == x.shape and out.dtype == x.dtype
        assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
        assert torch.equal(out[1], x[1])
    assert isinstance(thin(mnist[:2], 0.3), np.ndarray)


def test_bad_arguments() -> None:
    x = np.zeros((1, 28, 28), np.float32)
    with pytest.raises(ValueError, match="amount"):
        thin(x, 1.0)
    with pytest.raises(ValueError, match="amount"):
        thicken(x, -0.5)
    with pytest.raises(ValueError, match="strength"):
        swell(x, 0.5)
    with pytest.raises(ValueError, match="cuts"):
        fracture(x, cuts=0)
