"""Counterfactuals in Captum's call shape, called through captum's own metrics."""

from __future__ import annotations

import pytest
import torch
from captum import metrics
from torch import Tensor

from leapfactual.audit import CounterfactualAttribution, necessity, necessity_map


@pytest.fixture(scope="module")
def batch(tiny_run) -> tuple[Tensor, Tensor]:
    x = tiny_run.test.images[:6]
    with torch.no_grad():
        label = tiny_run.classifier(x).argmax(1)
    return x, (label + 1) % 10


def test_change_is_the_signed_ce_minus_input_and_zero_where_the_ce_misses(tiny_run, batch) -> None:
    x, target = batch
    attr = CounterfactualAttribution(tiny_run.explainer())
    out = attr.attribute(x, target=target)
    exp = attr.last
    assert exp is not None and out.shape == x.shape and out.dtype == x.dtype
    valid = exp.valid
    assert 0 < int(valid.sum()) < len(x), valid  # the tiny run's CEs show both cases
    assert torch.equal(out[valid], (exp.x_cf - x)[valid])
    assert out[~valid].abs().sum() == 0
    kept = CounterfactualAttribution(attr.explainer, invalid="keep").attribute(x, target)
    assert torch.equal(kept, exp.x_cf - x)  # same seed, same CEs
    (as_tuple,) = attr.attribute((x,), target)  # Captum's tuple form keeps its structure
    assert torch.equal(as_tuple, out)


def test_necessity_paints_the_needed_regions_over_every_channel(tiny_run, batch) -> None:
    x, target = batch
    explainer = tiny_run.explainer()
    out = CounterfactualAttribution(explainer, kind="necessity", invalid="keep").attribute(
        x, target.tolist()
    )
    exp = explainer.explain(x, target)
    expected = necessity_map(necessity(explainer.classifier, x, exp.x_cf, target, exp.source))
    assert torch.allclose(out, expected.expand_as(x))
    assert out.abs().sum() > 0 and float(out.abs().max()) <= 1.0


def test_captum_metrics_take_it_as_an_explanation_function(tiny_run, batch) -> None:
    x, target = batch
    attr = CounterfactualAttribution(tiny_run.explainer(), invalid="keep")

    def nudge(inputs: Tensor, perturb_radius: float = 0.02) -> Tensor:
        noise = torch.empty_like(inputs).uniform_(-perturb_radius, perturb_radius)
        return (inputs + noise).clamp(0, 1)

    torch.manual_seed(0)
    sensitivity = metrics.sensitivity_max(
        attr.attribute, x, perturb_func=nudge, n_perturb_samples=2, target=target
    )
    assert sensitivity.shape == (len(x),) and torch.isfinite(sensitivity).all()

    def perturb(inputs: Tensor) -> tuple[Tensor, Tensor]:
        noise = torch.randn_like(inputs) * 0.05
        return noise, (inputs - noise).clamp(0, 1)

    score = metrics.infidelity(
        attr.forward_func, perturb, x, attr.attribute(x, target), target=target
    )
    assert score.shape == (len(x),) and torch.isfinite(score).all()


def test_bad_calls_are_refused_with_the_fix(tiny_run, batch) -> None:
    x, _ = batch
    attr = CounterfactualAttribution(tiny_run.explainer())
    with pytest.raises(ValueError, match="target is required"):
        attr.attribute(x)
    with pytest.raises(ValueError, match="kind must be one of"):
        CounterfactualAttribution(tiny_run.explainer(), kind="saliency")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must be a leapfactual Explainer"):
        CounterfactualAttribution(tiny_run.classifier)
    assert not attr.has_convergence_delta() and attr.forward_func is tiny_run.classifier
