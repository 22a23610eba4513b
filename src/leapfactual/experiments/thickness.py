"""Ground-truth benchmark (issue 5.1): explain a thin-vs-thick classifier, score against the
true counterfactuals.

The data is :func:`leapfactual.data.thickness_task` (every digit set to a thin or a thick
stroke; its true CE is the same digit set to the twin thickness of the other class). A run
(VAE, classifier of thin vs thick, flow, CVAE) is fitted on it with :func:`fit_run`, the
held-out digits are explained toward the other class with every method of the Morpho-MNIST
table (and once more with the true rule itself as a black-box annotator in the loop), and
each column is scored by validity under the model and under the true rule, distance
to the true CE image, error on the intervened thickness, and the change of the measurements the
intervention leaves alone. Two reference columns frame the numbers: the input itself (no
change) and the true CE passed through the VAE (the best a method limited to the codec can do).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from leapfactual.bench import BenchContext, Benchmark, Method, Table, cost_rows
from leapfactual.bench.table import Cell
from leapfactual.data import ThicknessTask, load_thickness_task
from leapfactual.experiments.annotator import annotator_explainer, fit_annotator_flow
from leapfactual.experiments.morphomnist import (
    LEAP,
    LEAP_RELIABLE,
    MorphoBenchConfig,
    build_methods,
)
from leapfactual.explain import LeapFactual
from leapfactual.metrics import auroc, ground_truth_scores, validity
from leapfactual.metrics.ground_truth import KEPT
from leapfactual.morpho import measure
from leapfactual.pipeline import FitConfig, Run, fit_run
from leapfactual.pipeline.build import encode_decode, predict_probs
from leapfactual.report import save_grid_figure
from leapfactual.report.pages import write_page

NO_CHANGE = "input (no change)"
FLOOR = "true CE through the VAE (floor)"
RULE = "validity (true rule)"
ANNOTATOR = "LeapFactual, rule in the loop"
ROW_NAMES = {"l1": "L1 to true CE", "ssim": "SSIM to true CE", "error": "thickness error (px)"}
ROW_NAMES |= {k: f"{k} change vs true CE" for k in KEPT}


@dataclass
class ThicknessBenchResult:
    table: Table
    run: Run
    task: ThicknessTask
    index: Tensor  # dataset rows that were explained
    images: dict[str, Tensor]  # column -> CEs (plus "input" and "true CE"), for the figure
    seconds: float


def thickness_fit_config(base: str = "mnist5k", **settings: object) -> FitConfig:
    """The run settings of the task on ``base``: ``data`` names the registered dataset, so
    ``load_run`` and ``leapfactual explain`` rebuild it."""
    data = "thickness" if base == "mnist5k" else f"thickness:{base}"
    return FitConfig(data=data, **settings)  # type: ignore[arg-type]


def run_thickness_bench(
    run_dir: str | Path,
    fit: FitConfig | None = None,
    config: MorphoBenchConfig | None = None,
    progress: bool = False,
    task: ThicknessTask | None = None,
    device: str | torch.device | None = None,
) -> ThicknessBenchResult:
    """Build the task, fit or reuse the run on ``device`` (default: this rank's GPU if any,
    else the CPU), explain ``config.limit`` held-out digits toward the other class with
    every method, and score them against the true CEs.

    ``fit`` defaults to :func:`thickness_fit_config` (on mnist5k), ``config`` to the
    Morpho-MNIST table's methods and budgets. ``task`` replaces the one ``fit.data`` names
    (a smaller one, say); the run directory then belongs to it."""
    start = time.perf_counter()
    fit = fit or thickness_fit_config()
    config = config or MorphoBenchConfig()
    name, _, base = fit.data.partition(":")
    if name != "thickness":
        raise ValueError(f"the thickness benchmark needs data 'thickness[:BASE]', got {fit.data!r}")
    say = (lambda text: print(f"bench: {text}", flush=True)) if progress else (lambda _: None)
    if task is None:
        say("building the thin / thick digits (about 8 ms each)")
        task = load_thickness_task(base or "mnist5k")
    stages = ("vae", "classifier", "flow") + (("cvae",) if "cgm" in config.methods else ())
    run = fit_run(run_dir, fit, stages, progress=progress, dataset=task.dataset, device=device)
    assert run.vae is not None and run.classifier is not None
    index = run.test_idx[: config.explained(len(run.test_idx))]
    x = task.dataset.images[index]
    target = 1 - task.dataset.labels[index]
    x_true = task.true_counterfactual(index)
    value = task.thickness(index, flip=True)
    m_true = measure(x_true)
    rule = task.rule()

    @torch.no_grad()
    def judged(images: Tensor) -> dict[str, Cell]:
        """Every row but cost: under the explained classifier, the rule, and the true CE."""
        probs = predict_probs(run.classifier, images, run.outputs)  # type: ignore[arg-type]
        cells: dict[str, Cell] = {
            "accuracy to target": validity(probs, target),
            "AUROC": auroc(probs, target),
            RULE: validity(rule(images), target),
        }
        scores = ground_truth_scores(images, x_true, value, true_measurements=m_true)
        return cells | {ROW_NAMES[k]: v for k, v in scores.items()}

    methods = build_methods(run, config)
    if "leapfactual" in config.methods:
        say(f"fitting the flow on the rule's outputs ({ANNOTATOR})")
        train = run.train.images
        field = fit_annotator_flow(run.vae, rule, train, fit.flow, fit.seed, "logits", run.device)
        looped = annotator_explainer(rule, run.vae, field, "logits")
        methods += [Method(ANNOTATOR, looped), Method(f"{ANNOTATOR} reliable", looped, "reliable")]
    rows = [lambda col, _: judged(col.x_cf), cost_rows]
    bench = Benchmark(BenchContext(x=x, target=target), methods, rows)
    table, images = run_with_references(bench, x, x_true, judged, run.vae, say)
    return ThicknessBenchResult(table, run, task, index, images, time.perf_counter() - start)


def run_with_references(
    bench: Benchmark,
    x: Tensor,
    x_true: Tensor,
    judged: Callable[[Tensor], dict[str, Cell]],
    vae: Any,
    say: Callable[[str], None],
) -> tuple[Table, dict[str, Tensor]]:
    """Run ``bench``, then add the references judged like the methods: the input itself
    (:data:`NO_CHANGE`) and the true CE through the VAE (:data:`FLOOR`). Returns the table and
    the images by column (input, true CE, every method's CEs)."""
    table = bench.run(say)
    images = {"input": x, "true CE": x_true}
    for method in bench.methods:
        images[method.name] = bench.column(method).x_cf
    references = {NO_CHANGE: x, FLOOR: encode_decode(vae, x_true)[1]}
    for column, refs in references.items():
        table.columns.append(column)
        for row, cell in judged(refs).items():
            table.set(row, column, cell)
    return table, images


def save_figure(result: ThicknessBenchResult, path: str | Path, per_class: int = 4) -> Path:
    """A grid: ``per_class`` thin and ``per_class`` thick held-out digits (columns); rows are
    the input, the true CE, and every method's CE."""
    labels = result.task.dataset.labels[result.index]
    picks = [i for c in (0, 1) for i in (labels == c).nonzero().flatten()[:per_class].tolist()]
    rows = list(result.images)
    grid = torch.stack([result.images[r][picks].float().cpu() for r in rows])
    names = ["→ thick" if int(labels[i]) == 0 else "→ thin" for i in picks]
    return save_grid_figure(
        grid, names, path, row_labels=rows, xlabel="held-out digit and its target", ylabel=""
    )


def comparisons(table: Table) -> list[str]:
    """Sentences, generated from the numbers, on which methods come closest to the truth."""
    methods = [c for c in table.columns if c not in (NO_CHANGE, FLOOR)]

    def v(row: str, col: str) -> float:
        return table.mean(row, col)

    def best(row: str, low: bool) -> str:
        """``NAME (value)`` of the best column of ``row``; columns that tie at three decimals
        are all named."""
        top = min(v(row, c) for c in methods) if low else max(v(row, c) for c in methods)
        tied = [c for c in methods if round(v(row, c), 3) == round(top, 3)]
        return f"{' and '.join(tied)} ({top:.3f})"

    out = []
    l1, err = ROW_NAMES["l1"], ROW_NAMES["error"]
    if methods:
        out.append(
            f"Closest to the true CE (L1): {best(l1, low=True)}; doing nothing scores "
            f"{v(l1, NO_CHANGE):.3f} and the codec's floor {v(l1, FLOOR):.3f}."
        )
        out.append(
            f"Smallest thickness error in px: {best(err, low=True)}; the floor "
            f"{v(err, FLOOR):.3f}, no change {v(err, NO_CHANGE):.3f}."
        )
        out.append(f"Highest validity under the true rule: {best(RULE, low=False)}.")
    lf, rel = LEAP, LEAP_RELIABLE
    if lf in methods and rel in methods:
        word = "raises" if v(RULE, rel) > v(RULE, lf) else "does not raise"
        out.append(
            f"Injection {word} validity under the true rule ({v(RULE, lf):.3f} → "
            f"{v(RULE, rel):.3f}) and moves the thickness error from {v(err, lf):.3f} to "
            f"{v(err, rel):.3f} px."
        )
    others = [c for c in ("Opt-based", "CGM-based") if c in methods]
    if lf in methods and others:
        closer = [c for c in others if v(l1, lf) < v(l1, c)]
        farther = [c for c in others if c not in closer]
        parts = [f"closer to the true CE than {' and '.join(closer)}"] if closer else []
        parts += [f"not closer than {' and '.join(farther)}"] if farther else []
        out.append(
            f"Of the paper's baselines, LeapFactual (L1 {v(l1, lf):.3f}) is "
            + "; ".join(parts)
            + " ("
            + ", ".join(f"{c} {v(l1, c):.3f}" for c in others)
            + ")."
        )
    looped, looped_rel = ANNOTATOR, f"{ANNOTATOR} reliable"
    if looped in methods and looped_rel in methods:
        acc = "accuracy to target"
        out.append(
            f"With the rule itself in the loop (a non-differentiable annotator in place of the "
            f"classifier, flow fitted on its outputs), validity under the rule is "
            f"{v(RULE, looped):.3f} ({v(RULE, looped_rel):.3f} reliable) and the explained "
            f"classifier agrees with {v(acc, looped):.3f} ({v(acc, looped_rel):.3f}): the CEs "
            "follow the annotator they were made with."
        )
    kept = [ROW_NAMES[k] for k in KEPT]
    if lf in methods:
        calm = [k for k, row in zip(KEPT, kept, strict=True) if v(row, lf) <= v(row, FLOOR) * 2]
        out.append(
            f"Measurements that should not move: LeapFactual stays within twice the floor on "
            f"{len(calm)} of {len(KEPT)} ({', '.join(calm) or 'none'})."
        )
    return out


def leap_settings(run: Run) -> str:
    """LeapFactual's settings in the table, as text (from the explainer the table used)."""
    lf = run.explainer()
    assert isinstance(lf, LeapFactual) and lf.inject is not None
    return (
        f"blends {lf.blend.steps} leaps at γ = {lf.blend.gamma:g} and injects "
        f"{lf.inject.steps} (γ lift {lf.inject.gamma_lift:g}, land {lf.inject.gamma_land:g}), "
        f"{lf.solver.method} with {lf.solver.steps} steps per lift and per land"
    )


def write_thickness_page(
    result: ThicknessBenchResult, path: str | Path, command: str, config: MorphoBenchConfig
) -> Path:
    """The Markdown page with the table, the figure (next to it, ``.png``) and the set-up."""
    page = Path(path)
    figure = save_figure(result, page.with_suffix(".png"))
    run, task = result.run, result.task
    summary = run.summary
    levels = task.levels
    table = [
        "Rows: accuracy to target and AUROC under the explained classifier; validity under "
        "the true rule (measured thickness); L1 (mean absolute pixel difference) and SSIM "
        "to the true CE; |thickness(x') − t*| with t* the true CE's set thickness (mean ± "
        "SEM); the relative change of length, slant, width and height against the true "
        "CE (mean ± SEM), which a thickness intervention should leave alone; cost. "
        f"`{ANNOTATOR}`: LeapFactual with the true rule as its (black-box) annotator, its "
        "flow fitted on the rule's outputs instead of the classifier's. Last two "
        f"columns: `{NO_CHANGE}` scores the input itself, `{FLOOR}` the true CE "
        "reconstructed by the VAE, the best any latent-space method can reach.",
        "",
        result.table.to_markdown(),
        f"![inputs, true CEs and every method's CE]({figure.name})",
        "",
        "*Rows: the input, its true CE, then each method's CE; columns: held-out digits.*",
    ]
    said = [
        *[f"- {s}" for s in comparisons(result.table)],
        "",
        f"Settings: Opt-based {config.opt_steps} steps (paper 1,000); attacks at most "
        f"{config.attack_steps} steps; LeapFactual {leap_settings(run)}.",
    ]
    return write_page(
        page,
        "Ground truth: thin vs thick digits (issue 5.1)",
        command,
        f"`{run.config.data}` (`{task.dataset.name}`): {len(task.dataset)} digits, "
        f"each set to a thin stroke ({levels.thin[0]:g}-{levels.thin[1]:g} px) or a thick "
        f"one ({levels.thick[0]:g}-{levels.thick[1]:g} px), half each (seed 0); true rule: "
        f"thick when the measured thickness exceeds {levels.boundary:g} px. "
        f"{len(run.train_idx)} training / {len(run.test_idx)} held-out digits "
        f"(split seed {run.config.seed}).",
        result.seconds,
        [
            f"Explained: the first {len(result.index)} held-out digits, each toward the "
            "other class. Its true CE is the same base digit set to the twin thickness of the "
            "other class (same place within the class's range).",
            f"Classifier (thin vs thick) held-out accuracy "
            f"{summary.get('classifier_test_accuracy', math.nan):.3f}; VAE held-out "
            f"reconstruction PSNR {summary.get('vae_test_psnr', math.nan):.1f} dB, SSIM "
            f"{summary.get('vae_test_ssim', math.nan):.3f}.",
        ],
        [(None, table), ("What the numbers say", said)],
    )


__all__ = [
    "ThicknessBenchResult",
    "comparisons",
    "run_thickness_bench",
    "save_figure",
    "thickness_fit_config",
    "write_thickness_page",
]
