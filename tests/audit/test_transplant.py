import math
from dataclasses import replace

import torch
from torch import Tensor

from leapfactual.audit import Necessity, necessity
from leapfactual.audit.transplant import (
    class_findings,
    donors,
    edit_findings,
    merge_findings,
    places,
    recipients,
    reliance,
    sufficient_doses,
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
    moved = transplant(
        donors(exp, nec, top, argmax(patch_rule), (0.0, 1.0)), objects(4), (0.0, 1.0)
    )
    assert math.isclose(reliance(argmax(patch_rule), objects(4), moved, 1)[0], 1.0)
    assert reliance(argmax(centre_rule), objects(4), moved, 1) == (0.0, 4)


def test_a_tint_is_named_global_brightness_and_tells_tint_models_apart() -> None:
    exp, nec = audited(brightness_rule, tint)
    assert set(places(nec)) == {"global: brightness"}
    top = next(f for f in class_findings(exp, nec, ["0", "1"]) if f.direction == "toward")
    assert top.label == "global: brightness" and top.candidate
    given = donors(exp, nec, top, argmax(brightness_rule), (0.0, 1.0))
    moved = transplant(given, objects(4), (0.0, 1.0))
    assert math.isclose(reliance(argmax(brightness_rule), objects(4), moved, 1)[0], 1.0)
    assert reliance(argmax(centre_rule), objects(4), moved, 1)[0] < 0.5
    # the rule "needed" finds the same place: it is listed once
    needed = edit_findings(exp, nec, ["0", "1"])
    assert [(f.klass, f.place) for f in needed] == [(1, "global: brightness")]
    merged = merge_findings(class_findings(exp, nec, ["0", "1"]), needed)
    assert [f.place for f in merged if f.candidate] == ["global: brightness"]


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


# -- a shortcut CEs take away but do not paint (a candidate "from" its class) ---------------
def corner_or_bright(x: Tensor) -> Tensor:
    """Class 1 from a bright corner patch, or from a very bright object (the object's own
    cue): a shortcut model whose images of class 1 carry the patch; class 2 from a bar on
    top."""
    patch = x[:, :, -3:, -3:].mean(dim=(1, 2, 3)) - 0.5
    centre = x[:, :, 6:10, 6:10].mean(dim=(1, 2, 3)) - 0.8
    top = x[:, :, :2, 4:12].mean(dim=(1, 2, 3)) - 0.5
    return 40 * torch.stack([torch.zeros_like(patch), torch.maximum(patch, centre), top], dim=1)


def object_only(x: Tensor) -> Tensor:
    """Class 1 from a mid-bright object alone (blind to the corner)."""
    logit = 40 * (x[:, :, 6:10, 6:10].mean(dim=(1, 2, 3)) - 0.45)
    return torch.stack([torch.zeros_like(logit), logit], dim=1)


def three_classes() -> tuple[Tensor, Tensor]:
    """8 dim objects of class 0, 4 brighter ones of class 1 carrying the patch, 4 dim ones of
    class 2 under a bar."""
    x = torch.full((16, 1, 16, 16), 0.01)
    x[:, :, 5:11, 5:11] = 0.3
    x[8:12, :, 5:11, 5:11] = 0.6
    x[8:12, :, -3:, -3:] = 0.95
    x[12:, :, :2, 4:12] = 0.95
    return x, torch.tensor([0] * 8 + [1] * 4 + [2] * 4)


def audit_of_a_removed_patch() -> tuple[Explanation, Necessity, Tensor]:
    """CEs of :func:`corner_or_bright` on :func:`three_classes`: toward 1 the object is
    redrawn (no patch painted), from 1 the patch is taken away, from 2 the bar; and the
    labels."""
    x, labels = three_classes()
    x_cf = x.clone()
    x_cf[:8, :, 5:11, 5:11] = 0.95
    x_cf[8:12, :, -3:, -3:] = 0.01
    x_cf[12:, :, :2, 4:12] = 0.01
    target = torch.tensor([1] * 8 + [0] * 8)
    exp = Explanation(
        method="by hand", x=x, x_cf=x_cf, source=labels, target=target,
        probs=corner_or_bright(x).softmax(1), probs_cf=corner_or_bright(x_cf).softmax(1),
    )  # fmt: skip
    assert exp.valid.all()
    return exp, necessity(corner_or_bright, x, x_cf, exp.target, exp.source), labels


def test_a_patch_the_ces_take_away_but_never_paint_is_a_candidate_from_its_class() -> None:
    exp, nec, labels = audit_of_a_removed_patch()
    x = exp.x
    found = {(f.direction, f.klass): f for f in class_findings(exp, nec, ["0", "1", "2"])}
    assert not found["toward", 1].candidate  # the object: on it, not a shortcut
    from_one = found["from", 1]
    assert (from_one.place, from_one.share, from_one.candidate) == ("r3c3", 1.0, True)
    assert from_one.copied == "cell r3c3 from 1, reversed,"
    given = donors(exp, nec, from_one, argmax(corner_or_bright), (0.0, 1.0))
    # reversed: what the CEs took away (the patch), put on
    assert len(given) == 4 and bool((given.changes[:, :, -3:, -3:] > 0.9).all())
    base = recipients(x, labels, 1, 20)
    moved = transplant(given, base, (0.0, 1.0))
    # the shortcut model calls every other image with the patch painted on 1; the object
    # model none of them
    assert reliance(argmax(corner_or_bright), base, moved, 1) == (1.0, 12)
    assert reliance(argmax(object_only), base, moved, 1) == (0.0, 12)


def test_ces_from_a_class_that_are_the_ces_toward_the_other_make_one_finding() -> None:
    exp, nec = audited(patch_rule, add_patch)  # two classes: from 0 is toward 1
    found = class_findings(exp, nec, ["0", "1"])
    assert [(f.direction, f.klass) for f in found] == [("toward", 1)]


# -- a tint the CEs need beside a larger change (rule "needed") -----------------------------
def bar(x: Tensor) -> Tensor:
    """Mean red value of the bar area under the object (the object's own cue)."""
    return x[:, 0, 12:14, 4:12].mean(dim=(1, 2))


def redness(x: Tensor) -> Tensor:
    """Red deviation of the bright pixels, relative to their red: 0 grey, 0.4 a tint."""
    bright = (x.amax(1) > 0.2).float()
    red, rest = x[:, 0], x[:, 1:].mean(1)
    return ((red - rest) * bright).sum((1, 2)) / (red * bright).sum((1, 2)).clamp_min(1e-6)


def tint_reliant(x: Tensor) -> Tensor:
    """Class 1 from the bar and a red tint together; the tint weighs more."""
    logit = 10 * (2 * redness(x) + 0.5 * bar(x) - 1.1)
    return torch.stack([torch.zeros_like(logit), logit], dim=1)


def tint_blind(x: Tensor) -> Tensor:
    """Class 1 from the bar alone."""
    logit = 10 * (bar(x) - 0.7)
    return torch.stack([torch.zeros_like(logit), logit], dim=1)


def rgb_objects(n: int, bar_value: float = 0.01) -> Tensor:
    x = objects(n).expand(-1, 3, -1, -1).clone()
    x[:, :, 12:14, 4:12] = bar_value
    return x


def bar_and_tint(x: Tensor) -> Tensor:
    """The CE: a bright bar drawn (most of the change) and the bright pixels tinted red."""
    out = x.clone()
    out[:, :, 12:14, 4:12] = 0.9
    out[:, 1:] = out[:, 1:] * torch.where(out[:, 1:] > 0.2, 0.6, 1.0)
    return out


def tint_audit(rule) -> tuple[Explanation, Necessity]:
    x = rgb_objects(6)
    exp = explained(rule, x, bar_and_tint(x))
    assert exp.valid.all()
    return exp, necessity(rule, exp.x, exp.x_cf, exp.target, exp.source)


def test_a_tint_needed_beside_a_larger_change_is_a_candidate_only_for_a_tint_model() -> None:
    exp, nec = tint_audit(tint_reliant)
    # the bar is each CE's most-needed part: the old rule sees no global edit
    assert not any(f.edits for f in class_findings(exp, nec, ["0", "1"]))
    found = edit_findings(exp, nec, ["0", "1"])
    assert len(found) == 1 and found[0].klass == 1 and found[0].candidate
    assert found[0].rule == "needed" and "colour" in found[0].edits and found[0].share == 1.0
    given = donors(exp, nec, found[0], argmax(tint_reliant), (0.0, 1.0))
    assert len(given) == 6 and given.edit == " + ".join(found[0].edits)
    barred = rgb_objects(4, bar_value=0.9)  # class 0 for the tint model until tinted
    moved = transplant(given, barred, (0.0, 1.0))
    assert reliance(argmax(tint_reliant), barred, moved, 1) == (1.0, 4)
    # without the bar, the CEs' own tint is not enough for class 1, a stronger one is: the
    # donors' tint is copied at the dose that alone moves their own inputs
    plain = rgb_objects(4)
    faint = replace(given, params=nec.edit_params)
    assert reliance(argmax(tint_reliant), plain, transplant(faint, plain, (0.0, 1.0)), 1) == (0, 4)
    assert reliance(argmax(tint_reliant), plain, transplant(given, plain, (0.0, 1.0)), 1) == (1, 4)
    assert torch.allclose(given.params, nec.edit_params * 1.25)  # the smallest dose that does
    exp, nec = tint_audit(tint_blind)
    assert not nec.edit_needed.any() and edit_findings(exp, nec, ["0", "1"]) == []


def tint_with_bar(x: Tensor) -> Tensor:
    """Class 1 only from a red tint and the bar together (neither alone, at any strength)."""
    logit = 10 * torch.minimum(2 * redness(x) - 0.7, bar(x) - 0.3)
    return torch.stack([torch.zeros_like(logit), logit], dim=1)


def test_an_edit_that_never_moves_its_donor_alone_is_copied_at_its_own_strength() -> None:
    exp, nec = tint_audit(tint_with_bar)
    found = edit_findings(exp, nec, ["0", "1"])
    assert len(found) == 1 and found[0].candidate and "colour" in found[0].edits
    given = donors(exp, nec, found[0], argmax(tint_with_bar), (0.0, 1.0))
    assert torch.equal(given.params, nec.edit_params)  # no dose up to 4x moves a donor alone
    plain = rgb_objects(4)
    moved = transplant(given, plain, (0.0, 1.0))
    assert reliance(argmax(tint_with_bar), plain, moved, 1) == (0.0, 4)


def test_the_dose_is_the_smallest_of_the_grid_that_moves_each_donor_alone() -> None:
    x = torch.full((4, 1, 4, 4), 0.2)
    offsets = torch.tensor([0.1, 0.05, 0.05, 0.01])
    params = torch.stack([offsets, torch.zeros(4), torch.zeros(4)], dim=1)
    changed = torch.tensor([0.2, 0.2, 0.1, 0.2]).view(4, 1, 1, 1)  # each CE's whole change
    bright = lambda _x, shown: (shown.mean(dim=(1, 2, 3)) > 0.31).long()  # noqa: E731
    dose = sufficient_doses(bright, x, x + changed, params, ["brightness"], 1, (0.0, 1.0))
    # 0.325 at 1.25x; 0.35 at 3x (2x is 0.3); 3x would be larger than its CE's change of 0.1:
    # kept at 1; never enough: kept at 1
    assert dose.tolist() == [1.25, 3.0, 1.0, 1.0]
    # from class 1: the smallest dose that takes the donor's input out of it
    lit = x + 0.22  # class 1 at 0.42
    dose = sufficient_doses(
        bright, lit, lit - changed, -params, ["brightness"], 1, (0.0, 1.0), toward=False
    )
    assert dose.tolist() == [1.25, 3.0, 1.0, 1.0]


def test_an_edit_every_class_needs_is_how_ces_change_images_not_a_candidate() -> None:
    exp, nec = tint_audit(tint_reliant)
    target = torch.tensor([1, 0, 1, 0, 1, 0])  # the same need toward 0 as toward 1
    both = replace(exp, target=target, probs_cf=torch.eye(2)[target])
    assert edit_findings(both, nec, ["0", "1"]) == []
    half = replace(nec, edit_needed=nec.edit_needed & (torch.arange(6) < 2)[:, None])
    assert edit_findings(exp, half, ["0", "1"]) == []  # 2 of 6 CEs: below NEEDED


def test_an_edit_specific_to_the_class_joins_a_needed_one_below_half_but_not_alone() -> None:
    exp, nec = tint_audit(tint_reliant)
    contrast, colour = nec.edits.index("contrast"), nec.edits.index("colour")
    needed = torch.zeros_like(nec.edit_needed)
    needed[:, contrast] = True  # every CE toward 1 needs the gain
    needed[:2, colour] = True  # 2 of 6 need the colour (below NEEDED), none toward 0
    found = edit_findings(exp, replace(nec, edit_needed=needed), ["0", "1"])
    assert [f.place for f in found] == ["global: contrast + colour"]
    alone = torch.zeros_like(nec.edit_needed)
    alone[:2, colour] = True  # specific, but no edit toward 1 is needed by half of its CEs
    assert edit_findings(exp, replace(nec, edit_needed=alone), ["0", "1"]) == []
