"""Blending schedules against the paper's: per-CE scores and the verdicts on the target."""

import math

import pytest
import torch

from leapfactual.explain import Blend
from paper.experiments.schedules import (
    PAPER,
    PASSES,
    TaskScores,
    holds,
    mean_se,
    per_ce,
    schedule_lines,
)


def test_per_ce_counts_passes_from_the_leaps_each_sample_took(tiny_run) -> None:
    x = tiny_run.test.images[:6]
    target = (tiny_run.test.labels[:6] + 1) % 10
    exp = tiny_run.explainer("leapfactual", blend=Blend(0.1, 3)).explain(x, target)
    scores = per_ce(exp, tiny_run.classifier, x_true=x)
    # per CE: one classification of the input, one decode + classification of the latent,
    # one of each per blending leap and one of each after the 5 injection leaps; the cost
    # counts the same passes
    assert torch.equal(scores[PASSES], (3 + 2 * (exp.steps - 5) + 2).double())
    assert float(scores[PASSES].sum()) == exp.cost.decoder + exp.cost.classifier
    assert torch.equal(scores["validity"], exp.valid.double())
    assert torch.equal(scores["judge validity"], scores["validity"])  # judged by itself
    assert torch.allclose(scores["L1 to true CE"], scores["L1 to input"])


def test_holds_allows_one_standard_error_in_the_worse_direction() -> None:
    paper = torch.tensor([1.0, 0.0] * 50)  # mean 0.5, SE 0.05
    assert mean_se(paper) == (0.5, pytest.approx(math.sqrt(0.25 * 100 / 99) / 10))
    assert holds("validity", paper, torch.full((100,), 0.46))
    assert not holds("validity", paper, torch.full((100,), 0.44))
    assert holds("validity", paper, torch.ones(100))  # better is fine
    assert holds("L1 to true CE", paper, torch.full((100,), 0.54))
    assert not holds("L1 to true CE", paper, torch.full((100,), 0.56))


def test_verdicts_name_the_share_of_passes_and_what_got_worse() -> None:
    ones, n = torch.ones(100), 100
    paper = {PASSES: 43 * ones, "validity": ones, "judge validity": 0.9 * ones}
    fast_same = {PASSES: 24 * ones, "validity": ones, "judge validity": 0.9 * ones}
    fast_worse = {PASSES: 24 * ones, "validity": ones, "judge validity": 0.5 * ones}
    slow_same = {PASSES: 40 * ones, "validity": ones, "judge validity": 0.9 * ones}
    scores = {PAPER: paper, "fast": fast_same, "worse": fast_worse, "slow": slow_same}
    text = "\n".join(schedule_lines([TaskScores("digits", "oracle", n, scores)]))
    assert "| oracle validity | 0.900 ± 0.000 |" in text
    assert (
        "- fast: 0.56x the paper's passes; no measure worse by more than one SE -> target "
        + ("reached.")
        in text
    )
    assert "- worse: 0.56x the paper's passes; worse by more than one SE on oracle validity" in text
    assert "oracle validity -> target NOT reached." in text
    assert "- slow: 0.93x" in text and "slow" in text.split("target NOT reached")[-2]
