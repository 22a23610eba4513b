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
The whole benchmark repeats for each seed (runs, split and models), and the page gives every
cell over seeds with verdicts that count them (:mod:`leapfactual.bench.seeds`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from leapfactual.data import ThicknessTask, load_dataset, load_thickness_task
from leapfactual.explain import LeapFactual
from leapfactual.metrics import KEPT, auroc, ground_truth_scores, robustness, validity
from leapfactual.morpho import measure
from leapfactual.pipeline import FitSettings, Run, encode_decode, fit_run, predict_probs
from leapfactual.report import save_grid_figure
from paper.bench import BenchContext, Benchmark, Method, Table, cost_rows
from paper.bench.seeds import (
    Difference,
    SeedTables,
    joined,
    over_seeds,
    seed_directory,
    seeds_csv,
)
from paper.bench.table import Cell
from paper.experiments.annotator import annotator_explainer, fit_annotator_flow
from paper.experiments.morphomnist import (
    LEAP,
    LEAP_RELIABLE,
    MorphoBenchConfig,
    build_methods,
)
from paper.pages import write_page

NO_CHANGE = "input (no change)"
FLOOR = "true CE through the VAE (floor)"
RULE = "validity (true rule)"
ANNOTATOR = "LeapFactual, rule in the loop"
ROW_NAMES = {"l1": "L1 to true CE", "ssim": "SSIM to true CE", "error": "thickness error (px)"}
ROW_NAMES |= {k: f"{k} change vs true CE" for k in KEPT}


@dataclass
class ThicknessBenchResult:
    tables: SeedTables
    runs: list[Run]  # in seed order
    task: ThicknessTask
    index: Tensor  # dataset rows explained at the first seed
    images: dict[str, Tensor]  # the first seed's column -> CEs (plus "input", "true CE")
    seconds: float


def thickness_fit_config(base: str = "mnist5k", **settings: object) -> FitSettings:
    """The run settings of the task on ``base``: ``data`` names the registered dataset, so
    ``load_run`` and ``leapfactual explain`` rebuild it."""
    data = "thickness" if base == "mnist5k" else f"thickness:{base}"
    return FitSettings(data=data, **settings)  # type: ignore[arg-type]


def run_thickness_bench(
    run_dir: str | Path,
    fit: FitSettings | None = None,
    config: MorphoBenchConfig | None = None,
    progress: bool = False,
    task: ThicknessTask | None = None,
    device: str | torch.device | None = None,
) -> ThicknessBenchResult:
    """Build the task, then for each of ``config.seeds``: fit or reuse the run
    ``run_dir/seed-S`` (``fit`` with that seed) on ``device`` (default: this rank's GPU if
    any, else the CPU), explain ``config.limit`` held-out digits toward the other class with
    every method, and score them against the true CEs.

    ``fit`` defaults to :func:`thickness_fit_config` (on mnist5k), ``config`` to the
    Morpho-MNIST table's methods and budgets. ``task`` replaces the one ``fit.data`` names
    (a smaller one, say); the run directories then belong to it."""
    start = time.perf_counter()
    fit = fit or thickness_fit_config()
    config = config or MorphoBenchConfig()
    name, _, base = fit.data.partition(":")
    if name != "thickness":
        raise ValueError(f"the thickness benchmark needs data 'thickness[:BASE]', got {fit.data!r}")
    say = (lambda text: print(f"bench: {text}", flush=True)) if progress else (lambda _: None)
    if task is None:
        say("building the thin / thick digits (about 8 ms each)")
        task = load_thickness_task(load_dataset(base or "mnist5k"))
    tables, runs, shown = [], [], None
    for seed in config.seeds:
        say(f"seed {seed}")
        run_seed = seed_directory(run_dir, seed)
        table, run, index, images = thickness_table(
            run_seed, replace(fit, seed=seed), config, task, progress, say, device
        )
        tables.append(table)
        runs.append(run)
        shown = shown or (index, images)
    assert shown is not None
    return ThicknessBenchResult(
        SeedTables(config.seeds, tables), runs, task, *shown, time.perf_counter() - start
    )


def thickness_table(
    run_dir: Path,
    fit: FitSettings,
    config: MorphoBenchConfig,
    task: ThicknessTask,
    progress: bool,
    say: Callable[[str], None],
    device: str | torch.device | None,
) -> tuple[Table, Run, Tensor, dict[str, Tensor]]:
    """One seed's table, its run, the dataset rows explained and the images by column."""
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
            "robust validity": robustness(
                run.classifier,  # type: ignore[arg-type]
                images,
                target,
                codec=run.vae,
                outputs=run.outputs,
            ).summary()["robust_validity"],
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
    return table, run, index, images


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


def comparisons(runs: SeedTables) -> list[str]:
    """Sentences, generated from the numbers over seeds, on which methods come closest to the
    truth (ties and seed counts as :class:`~leapfactual.bench.seeds.Difference`)."""
    methods = [col for col in runs.columns if col not in (NO_CHANGE, FLOOR)]
    c, seeds = runs.cell, len(runs.seeds)

    def best(row: str, low: bool) -> str:
        """``NAME (value, best in k of n seeds)``, then the columns tied with it."""
        top, *tied = runs.best(row, methods, higher=not low)
        wins = runs.firsts(row, top, methods, higher=not low)
        text = f"{top} ({c(row, top)}; best in {wins} of {seeds})"
        return text + (f", tied with {joined(tied)}" if tied else "")

    out = []
    l1, err = ROW_NAMES["l1"], ROW_NAMES["error"]
    if methods:
        out.append(
            f"Closest to the true CE (L1): {best(l1, low=True)}; doing nothing scores "
            f"{c(l1, NO_CHANGE)} and the codec's floor {c(l1, FLOOR)}."
        )
        out.append(
            f"Smallest thickness error in px: {best(err, low=True)}; the floor "
            f"{c(err, FLOOR)}, no change {c(err, NO_CHANGE)}."
        )
        out.append(f"Highest validity under the true rule: {best(RULE, low=False)}.")
    lf, rel = LEAP, LEAP_RELIABLE
    if lf in methods and rel in methods:
        gain = runs.diff(RULE, rel, lf)
        fall = runs.diff(err, rel, lf, higher=False)
        word = "raises" if gain.better else "does not raise"
        out.append(
            f"Injection {word} validity under the true rule ({c(RULE, lf)} → "
            f"{c(RULE, rel)}; {gain.evidence()}) and moves the thickness error from "
            f"{c(err, lf)} to {c(err, rel)} px ({fall.evidence('lower')})."
        )
    others = [col for col in ("Opt-based", "CGM-based") if col in methods]
    if lf in methods and others:
        diffs = [runs.diff(l1, lf, b, higher=False) for b in others]
        parts = [
            f"closer to the true CE than {joined([d.b for d in diffs if d.better])}"
            if any(d.better for d in diffs)
            else "",
            f"tied with {joined([d.b for d in diffs if d.tie])}"
            if any(d.tie for d in diffs)
            else "",
            f"farther than {joined([d.b for d in diffs if d.worse])}"
            if any(d.worse for d in diffs)
            else "",
        ]
        out.append(
            f"Of the paper's baselines, LeapFactual (L1 {c(l1, lf)}) is "
            + "; ".join(p for p in parts if p)
            + " ("
            + "; ".join(f"{d.b} {c(l1, d.b)}: {d.evidence('lower')}" for d in diffs)
            + ")."
        )
    looped, looped_rel = ANNOTATOR, f"{ANNOTATOR} reliable"
    if looped in methods and looped_rel in methods:
        acc = "accuracy to target"
        pairs = zip(runs.values(RULE, looped), runs.values(acc, looped), strict=True)
        follows = Difference(RULE, acc, tuple(r - a for r, a in pairs))
        verdict = "follow" if follows.better else "do not follow"
        out.append(
            f"With the rule itself in the loop (a non-differentiable annotator in place of the "
            f"classifier, flow fitted on its outputs), validity under the rule is "
            f"{c(RULE, looped)} ({c(RULE, looped_rel)} reliable) and the explained "
            f"classifier agrees with {c(acc, looped)} ({c(acc, looped_rel)}): the CEs "
            f"{verdict} the annotator they were made with more than the classifier (the "
            f"rule's validity {follows.evidence()})."
        )
    kept = [ROW_NAMES[k] for k in KEPT]
    if lf in methods:
        calm = []
        for k, row in zip(KEPT, kept, strict=True):
            held = sum(
                1
                for lf_value, floor in zip(
                    runs.values(row, lf), runs.values(row, FLOOR), strict=True
                )
                if lf_value <= 2 * floor
            )
            if runs.mean(row, lf) <= 2 * runs.mean(row, FLOOR):
                calm.append(f"{k} ({held} of {seeds})")
        out.append(
            f"Measurements that should not move: LeapFactual stays within twice the floor on "
            f"{len(calm)} of {len(KEPT)} on average over seeds ({', '.join(calm) or 'none'}; "
            "in brackets the seeds where it holds)."
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
    runs, task = result.runs, result.task
    first = runs[0]
    levels = task.levels

    def get(key: str) -> str:
        return over_seeds([float(r.summary.get(key, math.nan)) for r in runs])

    table = [
        result.tables.method_note(),
        "",
        "Rows: accuracy to target and AUROC under the explained classifier; validity under "
        "the true rule (measured thickness); L1 (mean absolute pixel difference) and SSIM "
        "to the true CE; |thickness(x') − t*| with t* the true CE's set thickness; the "
        "relative change of length, slant, width and height against the true CE, which a "
        "thickness intervention should leave alone (both averaged over CEs); cost. "
        f"`{ANNOTATOR}`: LeapFactual with the true rule as its (black-box) annotator, its "
        "flow fitted on the rule's outputs instead of the classifier's. Last two "
        f"columns: `{NO_CHANGE}` scores the input itself, `{FLOOR}` the true CE "
        "reconstructed by the VAE, the best any latent-space method can reach. Every "
        f"seed's values (with the SEM over CEs): `{seeds_csv(page.stem).name}`.",
        "",
        result.tables.summary().to_markdown(),
        f"![inputs, true CEs and every method's CE]({figure.name})",
        "",
        f"*Rows: the input, its true CE, then each method's CE (seed {result.tables.seeds[0]}); "
        "columns: held-out digits.*",
    ]
    said = [
        *[f"- {s}" for s in comparisons(result.tables)],
        "",
        f"Settings: Opt-based {config.opt_steps} steps (paper 1,000); attacks at most "
        f"{config.attack_steps} steps; LeapFactual {leap_settings(first)}.",
    ]
    return write_page(
        page,
        "Ground truth: thin vs thick digits (issue 5.1)",
        command,
        f"`{first.config.data}` (`{task.dataset.name}`): {len(task.dataset)} digits, "
        f"each set to a thin stroke ({levels.thin[0]:g}-{levels.thin[1]:g} px) or a thick "
        f"one ({levels.thick[0]:g}-{levels.thick[1]:g} px), half each (seed 0); true rule: "
        f"thick when the measured thickness exceeds {levels.boundary:g} px. "
        f"{len(first.train_idx)} training / {len(first.test_idx)} held-out digits, split "
        f"with each seed ({', '.join(map(str, result.tables.seeds))}).",
        result.seconds,
        [
            f"Explained: the first {len(result.index)} held-out digits, each toward the "
            "other class. Its true CE is the same base digit set to the twin thickness of the "
            "other class (same place within the class's range).",
            f"Classifier (thin vs thick) held-out accuracy "
            f"{get('classifier_test_accuracy')}; VAE held-out reconstruction PSNR "
            f"{get('vae_test_psnr')} dB, SSIM {get('vae_test_ssim')} (over seeds, as the "
            "table).",
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
