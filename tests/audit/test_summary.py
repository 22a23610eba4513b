import math

import pytest
import torch
from torch import Tensor

from leapfactual.audit import necessity, summarise, summary_table
from leapfactual.explain import AttributeProbes, Explanation


def top_left_rule(x: Tensor) -> Tensor:
    """Class 1 iff the mean of the top-left 4x4 patch exceeds 0.5."""
    logit = 40 * (x[:, :, :4, :4].mean(dim=(1, 2, 3)) - 0.5)
    return torch.stack([torch.zeros_like(logit), logit], dim=1)


def patch_means(x: Tensor) -> Tensor:
    """Latents for the probes: mean of the top-left and of the bottom-right patch."""
    return torch.stack([x[:, 0, :4, :4].mean(dim=(1, 2)), x[:, 0, 12:, 12:].mean(dim=(1, 2))], 1)


PROBES = AttributeProbes(
    weight=20 * torch.eye(2, dtype=torch.float64),
    bias=torch.full((2,), -10.0, dtype=torch.float64),
    names=("top_left", "bottom_right"),
)


def explanation(x: Tensor, x_cf: Tensor, target: list[int]) -> Explanation:
    probs = top_left_rule(x).softmax(dim=1)
    return Explanation(
        method="by hand",
        x=x,
        x_cf=x_cf,
        source=probs.argmax(dim=1),
        target=torch.tensor(target),
        probs=probs,
        probs_cf=top_left_rule(x_cf).softmax(dim=1),
        z=patch_means(x),
        z_cf=patch_means(x_cf),
    )


def hand_made() -> Explanation:
    """CEs 0, 1: 0 -> 1 raising the top-left patch plus a bottom-right nuisance; CE 2: 1 -> 0
    lowering the top-left patch plus the nuisance; CE 3: 0 -> 1 with the nuisance only (fails)."""
    x = torch.full((4, 1, 16, 16), 0.2)
    x[2, :, :4, :4] = 0.9
    x_cf = x.clone()
    x_cf[:2, :, :4, :4] = torch.tensor([0.9, 0.7]).view(2, 1, 1, 1)
    x_cf[2, :, :4, :4] = 0.2
    x_cf[:, :, 12:, 12:] = 0.7
    return explanation(x, x_cf, [1, 1, 0, 1])


def audit(exp: Explanation):
    return necessity(top_left_rule, exp.x, exp.x_cf, exp.target, exp.source)


def test_pairs_of_hand_made_ces() -> None:
    exp = hand_made()
    forward, backward = summarise(exp, audit(exp), attributes=PROBES, top=2)
    assert (forward.source, forward.target, backward.source, backward.target) == (0, 1, 1, 0)
    assert (forward.count, forward.valid, backward.count, backward.valid) == (3, 2, 1, 1)
    assert math.isclose(forward.validity, 2 / 3)
    assert torch.allclose(forward.mean_change, (exp.x_cf - exp.x)[:2].mean(dim=0))
    assert forward.mean_necessity.shape == (1, 16, 16)
    assert (forward.mean_necessity[0, :4, :4] > 0.99).all()
    assert forward.mean_necessity[0, 12:, 12:].abs().max() < 1e-6
    for summary in (forward, backward):
        best, second = summary.most_needed
        assert (best.row, best.col) == (0, 0) and best.necessity > 0.99
        assert second.necessity < 1e-6
        assert summary.minimal_smaller == 1.0  # the nuisance is never part of the minimal change
    assert forward.mean_cout > 0.5
    assert forward.attributions is not None and backward.attributions is not None
    assert forward.attributions["top_left"] > 0.9 and forward.attributions["bottom_right"] > 0.9
    assert backward.attributions["top_left"] < -0.9


def test_pair_without_valid_ces_gets_nan() -> None:
    exp = hand_made()
    only_failed = explanation(exp.x[3:], exp.x_cf[3:], [1])
    (summary,) = summarise(only_failed, audit(only_failed), attributes=PROBES)
    assert summary.valid == 0 and summary.most_needed == ()
    assert math.isnan(summary.mean_cout) and summary.mean_change.isnan().all()
    assert summary.attributions is not None and math.isnan(summary.attributions["top_left"])


def test_summary_table_rows() -> None:
    exp = hand_made()
    rows = summary_table(summarise(exp, audit(exp), attributes=PROBES))
    assert [(r["source"], r["target"]) for r in rows] == [(0, 1), (1, 0)]
    assert rows[0]["most_needed"].startswith("r0c0 1.000, ")
    assert {"count", "valid", "validity", "mean_cout", "minimal_smaller"} <= set(rows[0])
    assert rows[0]["attr:top_left"] > 0.9
    assert "attr:top_left" not in summary_table(summarise(exp, audit(exp)))[0]


def test_mismatches_are_named() -> None:
    exp = hand_made()
    nec = audit(exp)
    with pytest.raises(ValueError, match="explanation has 3 CEs"):
        summarise(explanation(exp.x[:3], exp.x_cf[:3], [1, 1, 0]), nec)
    with pytest.raises(ValueError, match="disagree on source or target"):
        summarise(exp, necessity(top_left_rule, exp.x, exp.x_cf, 1))
    exp.z = None
    with pytest.raises(ValueError, match="need latents"):
        summarise(exp, nec, attributes=PROBES)
    with pytest.raises(ValueError, match="top must be positive"):
        summarise(exp, nec, top=0)
