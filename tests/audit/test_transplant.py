import math

import torch
from torch import Tensor

from leapfactual.audit import necessity
from leapfactual.audit.transplant import (
    class_findings,
    donors,
    places,
    recipients,
    reliance,
    transplant,
)
from leapfactual.explain import Explanation


def patch_rule(x: Tensor) -> Tensor:
    """Class 1 iff the bottom-right 3x3 corner is bright (a shortcut)."""
    logit = 40 * (x[:, :, -3:, -3:].mean(dim=(1, 2, 3)) - 0.5)
    return torch.stack([torch.zeros_like(logit), logit], dim=1)


def brightness_rule(x: Tensor) -> Tensor:
    """Class 1 iff the image's mean exceeds 0.45 (a tint shortcut)."""
    logit = 40 * (x.mean(dim=(1, 2, 3)) - 0.45)
    return torch.stack([torch.zeros_like(logit), logit], dim=1)


def centre_rule(x: Tensor) -> Tensor:
    """Class 1 iff the centre is much brighter than the top rows (the object: blind to
    corners and tints)."""
    contrast = x[:, :, 6:10, 6:10].mean(dim=(1, 2, 3)) - x[:, :, :2].mean(dim=(1, 2, 3))
    logit = 40 * (contrast - 0.7)
    return torch.stack([torch.zeros_like(logit), logit], dim=1)


def objects(n: int) -> Tensor:
    """Dim images with a mid-grey object in the centre and an empty border."""
    x = torch.full((n, 1, 16, 16), 0.01)
    x[:, :, 5:11, 5:11] = 0.5 + 0.02 * torch.arange(n).view(n, 1, 1, 1)
    return x


def explained(rule, x: Tensor, x_cf: Tensor) -> Explanation:
    probs, probs_cf = rule(x).softmax(1), rule(x_cf).softmax(1)
    return Explanation(
        method="by hand", x=x, x_cf=x_cf, source=probs.argmax(1),
        target=torch.ones(len(x), dtype=torch.long), probs=probs, probs_cf=probs_cf,
    )  # fmt: skip


def audited(rule, x_cf_of):
    x = objects(6)
    exp = explained(rule, x, x_cf_of(x))
    return exp, necessity(rule, exp.x, exp.x_cf, exp.target, exp.source)


def add_patch(x: Tensor) -> Tensor:
    out = x.clone()
    out[:, :, -3:, -3:] = 0.95
    return out


def tint(x: Tensor) -> Tensor:
    return x + 0.45


def argmax(rule):
    return lambda x, shown: rule(shown).argmax(1)


def test_a_corner_patch_is_a_cell_candidate_and_a_patch_model_relies_on_it() -> None:
    exp, nec = audited(patch_rule, add_patch)
    assert places(nec) == ["r3c3"] * 6
    top = next(f for f in class_findings(exp, nec, ["0", "1"]) if f.direction == "toward")
    assert (top.direction, top.place, top.share, top.candidate) == ("toward", "r3c3", 1.0, True)
    moved = transplant(donors(exp, nec, top), objects(4), (0.0, 1.0))
    assert math.isclose(reliance(argmax(patch_rule), objects(4), moved, 1)[0], 1.0)
    assert reliance(argmax(centre_rule), objects(4), moved, 1) == (0.0, 4)


def test_a_tint_is_named_global_brightness_and_tells_tint_models_apart() -> None:
    exp, nec = audited(brightness_rule, tint)
    assert set(places(nec)) == {"global: brightness"}
    top = next(f for f in class_findings(exp, nec, ["0", "1"]) if f.direction == "toward")
    assert top.label == "global: brightness" and top.candidate
    moved = transplant(donors(exp, nec, top), objects(4), (0.0, 1.0))
    assert math.isclose(reliance(argmax(brightness_rule), objects(4), moved, 1)[0], 1.0)
    assert reliance(argmax(centre_rule), objects(4), moved, 1)[0] < 0.5


def test_a_region_over_most_of_the_image_is_global_not_its_top_left_cell() -> None:
    x = objects(6)
    exp = explained(brightness_rule, x, x + 0.45)
    nec = necessity(brightness_rule, exp.x, exp.x_cf, exp.target, exp.source, edits=())
    assert set(places(nec)) == {"global"}
    assert class_findings(exp, nec, ["0", "1"])[0].label == "global"


def test_reliance_counts_only_images_not_already_in_the_class() -> None:
    images = objects(4)
    labels = torch.tensor([1, 0, 0, 1])
    assert recipients(images, labels, 1, 5).shape[0] == 2
    always = lambda x, shown: torch.ones(len(shown), dtype=torch.long)  # noqa: E731
    share, n = reliance(always, images, images, 1)
    assert math.isnan(share) and n == 0
