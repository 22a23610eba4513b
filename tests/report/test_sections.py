"""What the report computes: sample choice, validity matrix, per-leap curves, the grid."""

import io

import pytest
import torch
from PIL import Image

from leapfactual.explain import Explanation
from leapfactual.explain.targets import all_other_targets
from leapfactual.report import source_target_grid
from leapfactual.report.images import gif_data_uri
from leapfactual.report.sections import leap_curves, select_samples, validity_matrix

from .test_html import fake_explanation


def labelled(source: list[int], target: list[int], valid: list[bool], k: int = 3) -> Explanation:
    n = len(source)
    probs_cf = torch.zeros(n, k)
    for i, (t, ok) in enumerate(zip(target, valid, strict=True)):
        probs_cf[i, t if ok else (t + 1) % k] = 1
    x = torch.rand(n, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    return Explanation(
        "m", x, x, torch.tensor(source), torch.tensor(target), torch.eye(k)[source], probs_cf
    )


def test_samples_are_chosen_by_order() -> None:
    exp = labelled([0, 0, 0, 1, 1, 2], [1, 2, 1, 0, 2, 0], [True, False, True, True, False, True])
    assert select_samples(exp, 3, "first") == [0, 1, 2]
    assert select_samples(exp, 3, "failures") == [1, 4, 0]
    assert select_samples(exp, 4, "per-class") == [0, 3, 5, 1]
    assert select_samples(exp, 6, "random", seed=1) == select_samples(exp, 6, "random", seed=1)
    assert sorted(select_samples(exp, 6, "random", seed=1)) == list(range(6))
    assert select_samples(exp, 6, "random", 1) != select_samples(exp, 6, "random", 2)
    with pytest.raises(ValueError, match="unknown sample order 'worst'"):
        select_samples(exp, 3, "worst")


def test_validity_matrix_counts_pairs() -> None:
    exp = labelled([0, 0, 0, 1], [1, 1, 2, 0], [True, False, True, True])
    m = validity_matrix(exp, exp.valid)
    assert m.total.tolist() == [[0, 2, 1], [1, 0, 0], [0, 0, 0]]
    assert m.valid.tolist() == [[0, 1, 1], [1, 0, 0], [0, 0, 0]]


def test_curves_from_decoded_latents_equal_those_from_kept_images() -> None:
    exp = fake_explanation(n=5, steps=4)
    exp.x = torch.rand(5, 1, 12, 12, generator=torch.Generator().manual_seed(1))
    exp.trajectory = torch.rand(5, 5, 144, generator=torch.Generator().manual_seed(2))

    def decode(z: torch.Tensor) -> torch.Tensor:
        return z.view(-1, 1, 12, 12)

    exp.trajectory_images = None
    latents_only = leap_curves(exp)  # without a decoder: the probabilities only
    assert latents_only is not None and [c.name for c in latents_only.curves] == ["p(target)"]
    exp.trajectory_images = exp.trajectory.view(5, 5, 1, 12, 12).clone()
    from_images = leap_curves(exp)
    exp.trajectory_images = None
    decoded = leap_curves(exp, decode)
    assert from_images is not None and decoded is not None
    assert [c.name for c in decoded.curves] == ["p(target)", "L1 to input", "SSIM to input"]
    for a, b in zip(from_images.curves, decoded.curves, strict=True):
        assert a.mean == pytest.approx(b.mean) and a.reference == b.reference
    l1 = decoded.curves[1]
    assert len(l1.mean) == 5 and all(
        lo <= m <= hi for lo, m, hi in zip(l1.low, l1.mean, l1.high, strict=True)
    )
    assert l1.reference is not None and l1.reference > 0
    assert decoded.blend_steps == 3
    target_p = exp.trajectory_probs[torch.arange(5), :, exp.target]
    assert decoded.curves[0].mean == pytest.approx(target_p.mean(0).tolist())


def test_path_animation_has_every_leap_as_a_frame() -> None:
    frames = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    uri = gif_data_uri(frames, scale=3)
    import base64

    gif = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert gif.format == "GIF" and gif.n_frames == 6 and gif.size == (24, 24)


def test_grid_places_inputs_by_their_true_label_without_blank_cells() -> None:
    labels = torch.tensor([0, 2])  # the model reads the second input (a "2") as 1
    rows, targets = all_other_targets(labels, 3)
    x = torch.stack([torch.zeros(1, 2, 2), torch.ones(1, 2, 2)])[rows]
    exp = Explanation(
        "m",
        x,
        x_cf=torch.full_like(x, 0.5),
        source=torch.tensor([0, 0, 1, 1]),
        target=targets,
        probs=torch.zeros(4, 3),
        probs_cf=torch.zeros(4, 3),
    )
    grid = source_target_grid(exp, 3, labels)
    assert grid[1, 2].eq(1).all()  # the input in its true label's column
    assert grid[1, 1].eq(0.5).all()  # its CE toward the class the model gives it is kept
    assert grid.mean(dim=(2, 3, 4)).tolist() == [[0, 0.5, 0.5], [0.5, 0.5, 1]]  # none blank
    with pytest.raises(ValueError, match="targets class 1, the label of its input"):
        source_target_grid(exp, 3, torch.tensor([1, 0]))
