"""Fewer model calls at equal quality: blending schedules against the paper's (beyond the paper).

Every leap costs one decode and one classification, so the number of leaps decides the time of
the loop (``make bench`` shows it runs close to that bound). :func:`run_schedules` explains the
held-out digits of the Morpho-MNIST benchmark's run (toward a random other class) and of the
thickness benchmark's run (toward the other class, with known true CEs) with LeapFactual under
each blending schedule, and scores per CE: decode + classify passes, validity of the CE and of
the reliable CE under the explained classifier and under an independent judge (Morpho-MNIST:
the run's oracle; thickness: the true rule), and, on the thickness task, the L1 distance to
the true CE. :func:`schedule_lines` turns that into a table (mean ± standard error) and
sentences on whether a schedule reaches the target: at most :data:`PASS_SHARE` of the paper
schedule's passes with no quality measure worse than the paper's by more than one standard
error.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from leapfactual.data import load_dataset, load_thickness_task
from leapfactual.explain import Blend, Explanation, Inject, random_other_targets
from leapfactual.pipeline import FitSettings, Run, fit_run, predict_probs
from paper.experiments.thickness import thickness_fit_config

PAPER = "paper schedule (15 leaps)"
SETTLED = Blend(0.1, 15, settle=0.01, boost=4.0)
"""Ours: leaps of 4 x gamma until the classifier puts a sample in the target class, then the
paper's gamma until its target probability rises by less than 0.01 in a leap (at most the
paper's 15 leaps)."""
SCHEDULES: dict[str, Blend] = {
    PAPER: Blend(),
    "boost 4 + settle 0.01 (ours)": SETTLED,
    "settle 0.01 alone": Blend(0.1, 15, settle=0.01),
    "latent movement (tol 1e-2)": Blend(0.1, 15, tol=1e-2),
}
PASS_SHARE = 0.6
PASSES = "decode + classify passes / CE"
HIGHER = ("validity", "judge validity", "reliable validity", "reliable judge validity")
LOWER = ("L1 to true CE", "reliable L1 to true CE")
SHOWN = ("L1 to input", "reliable L1 to input")
"""Reported, not judged: how much a CE changes its input (without a true CE to compare)."""


@dataclass
class TaskScores:
    """Per-CE scores of every schedule on one task (name -> schedule -> measure -> values)."""

    task: str
    judge: str
    n: int
    scores: dict[str, dict[str, Tensor]] = field(default_factory=dict)


def passes(exp: Explanation, injected: int = Inject().steps) -> Tensor:
    """Decode + classify passes per CE of a LeapFactual explanation made without a trajectory
    and ``injected`` land-only injection leaps: one classification of the input, one decode +
    classification of its latent, one of each per blending leap, and one of each after the
    injection's leaps (decoded once, after the last)."""
    assert exp.steps is not None
    blends = exp.steps - injected
    return (3 + 2 * blends + (2 if injected else 0)).double()


def per_ce(
    exp: Explanation, judge: Callable[[Tensor], Tensor], x_true: Tensor | None
) -> dict[str, Tensor]:
    """Per-CE scores of one explanation (a LeapFactual one with its reliable CE, the default
    injection, no trajectory)."""
    assert exp.x_reliable is not None and exp.probs_reliable is not None
    target = exp.target
    out = {PASSES: passes(exp)}
    for prefix, images, probs in (
        ("", exp.x_cf, exp.probs_cf),
        ("reliable ", exp.x_reliable, exp.probs_reliable),
    ):
        judged = predict_probs(judge, images, "logits")
        out[f"{prefix}validity"] = (probs.argmax(1) == target).double()
        out[f"{prefix}judge validity"] = (judged.argmax(1) == target).double()
        out[f"{prefix}L1 to input"] = (images - exp.x).abs().flatten(1).mean(1).double()
        if x_true is not None:
            out[f"{prefix}L1 to true CE"] = (images - x_true).abs().flatten(1).mean(1).double()
    return out


def _explain_all(
    run: Run,
    x: Tensor,
    target: Tensor,
    judge: Callable[[Tensor], Tensor],
    x_true: Tensor | None,
    schedules: Mapping[str, Blend],
) -> dict[str, dict[str, Tensor]]:
    return {
        name: per_ce(run.explainer("leapfactual", blend=blend).explain(x, target), judge, x_true)
        for name, blend in schedules.items()
    }


def run_schedules(
    mnist_run: str | Path,
    thickness_run: str | Path,
    n: int = 250,
    seed: int = 0,
    schedules: Mapping[str, Blend] = SCHEDULES,
    device: str | torch.device | None = None,
) -> list[TaskScores]:
    """Fit both benchmarks' runs (:func:`fit_run` reuses what they hold) and score every
    schedule on the first ``n`` held-out digits of each (targets seeded by ``seed``)."""
    if PAPER not in schedules:
        raise ValueError(f"schedules must include {PAPER!r}, the reference of the comparison")
    stages = ("vae", "classifier", "flow", "oracle")
    run = fit_run(mnist_run, FitSettings(), stages, device=device)
    test = run.test
    count = min(n, len(test))
    x, labels = test.images[:count], test.labels[:count]
    target = random_other_targets(labels, test.num_classes, seed)
    assert run.oracle is not None
    mnist = TaskScores("Morpho-MNIST (mnist5k)", "oracle", count)
    mnist.scores = _explain_all(run, x, target, run.oracle, None, schedules)

    task = load_thickness_task(load_dataset("mnist5k"))
    fit = thickness_fit_config()
    thick = fit_run(thickness_run, fit, stages[:3], dataset=task.dataset, device=device)
    index = thick.test_idx[: min(n, len(thick.test_idx))]
    x, target = task.dataset.images[index], 1 - task.dataset.labels[index]
    thickness = TaskScores("thickness (thin vs thick)", "true rule", len(index))
    thickness.scores = _explain_all(
        thick, x, target, task.rule(), task.true_counterfactual(index), schedules
    )
    return [mnist, thickness]


def mean_se(values: Tensor) -> tuple[float, float]:
    """Mean and standard error of the mean (0 for one value)."""
    n = values.numel()
    sd = float(values.std()) if n > 1 else 0.0
    return float(values.mean()), sd / math.sqrt(n)


def holds(name: str, paper: Tensor, other: Tensor) -> bool:
    """Whether ``other`` is not worse than ``paper`` on measure ``name`` by more than one
    standard error of the paper schedule's mean."""
    (p, se), (o, _) = mean_se(paper), mean_se(other)
    return o >= p - se if name in HIGHER else o <= p + se


def schedule_lines(results: list[TaskScores]) -> list[str]:
    """Markdown: per task a table of mean ± SE per schedule, then one verdict per schedule."""
    lines = [
        "Blending schedules against the paper's (gamma 0.1, 15 leaps, then 5 injection "
        "leaps), LeapFactual otherwise unchanged (RK4, 4 steps). Per CE: decode + classify "
        "passes (one classification of the input, one decode + classification of its latent, "
        "then one of each per leap), validity of the CE and of the reliable CE under the "
        "explained classifier and under an independent judge, and on the thickness task the "
        "mean absolute pixel difference to the true CE. Mean ± standard error over CEs. "
        f"Target: at most {PASS_SHARE:g}x the paper schedule's passes with no measure worse "
        "than the paper's by more than one standard error of the paper's mean.",
    ]
    for res in results:
        names = list(res.scores)
        paper = res.scores[PAPER]
        lines += ["", f"**{res.task}**, {res.n} CEs, judge: {res.judge}.", ""]
        lines += ["| measure | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for measure in paper:
            cells = []
            for name in names:
                m, se = mean_se(res.scores[name][measure])
                cells.append(f"{m:.3f} ± {se:.3f}")
            label = measure.replace("judge", res.judge)
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
        for name in names[1:]:
            scores = res.scores[name]
            share = float(scores[PASSES].mean() / paper[PASSES].mean())
            worse = [
                m.replace("judge", res.judge)
                for m in paper
                if m not in (PASSES, *SHOWN) and not holds(m, paper[m], scores[m])
            ]
            reached = share <= PASS_SHARE and not worse
            change = ", ".join(
                f"{m} {float(scores[m].mean()):.3f} vs {float(paper[m].mean()):.3f}"
                for m in SHOWN
                if m in paper
            )
            lines.append(
                f"- {name}: {share:.2f}x the paper's passes; "
                + (
                    "no measure worse by more than one SE"
                    if not worse
                    else f"worse by more than one SE on {', '.join(worse)}"
                )
                + f" -> target {'reached' if reached else 'NOT reached'}"
                + (f" (not judged: {change})." if change else ".")
            )
    return lines


__all__ = [
    "PAPER",
    "PASS_SHARE",
    "SCHEDULES",
    "SETTLED",
    "TaskScores",
    "holds",
    "mean_se",
    "passes",
    "per_ce",
    "run_schedules",
    "schedule_lines",
]
