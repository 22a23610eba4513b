"""Ground-truth regression benchmark: explain a stroke-thickness regressor, score against the
true counterfactuals, and measure how several CEs per input trade diversity for validity.

The data is :func:`leapfactual.data.stroke_task` (every digit set to a seeded thickness of
1.5-4.5 px; that thickness is its value). A run (VAE, a CNN regressor of the thickness, the
flow conditioned on the regressor's standardised output) is fitted on it with
:func:`fit_run`. Each held-out digit is explained toward a thickness ``shift`` px away from
its own (thicker when below the middle of the range, else thinner) with every method that
takes regression targets; its true CE is the same base digit under ``do(thickness = t)``.
Rows as on the thickness page: validity (``|f(x') - t| <= tolerance``), distance to the true
CE, error on the intervened thickness, change of the measurements that should not move, and
cost. Then LeapFactual makes ``diverse`` CEs per input with each diversity mechanism and
spread, scored by validity, proximity and diversity (:func:`~leapfactual.metrics.diversity`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from leapfactual.data import StrokeTask, load_dataset, stroke_task
from leapfactual.explain import Diversity, Explanation, build_explainer
from leapfactual.metrics import KEPT, diversity, ground_truth_scores, proximity, value_validity
from leapfactual.morpho import measure
from leapfactual.pipeline import ClassifierSettings, FitSettings, Run, fit_run, predict_probs
from leapfactual.report import save_grid_figure
from paper.bench import BenchContext, Benchmark, Table, cost_rows, registry_methods
from paper.bench.table import Cell
from paper.experiments.thickness import FLOOR, NO_CHANGE, run_with_references
from paper.pages import write_page

VALID = "validity (|f(x') − t| ≤ tol)"
MISS = "|f(x') − t|"
ROW_NAMES = {"l1": "L1 to true CE", "ssim": "SSIM to true CE", "error": "thickness error (px)"}
ROW_NAMES |= {k: f"{k} change vs true CE" for k in KEPT}
PAIR_L1, PAIR_COS = "pairwise L1 among the K", "pairwise 1 − cos of changes"


@dataclass(frozen=True)
class RegressionBenchConfig:
    """What to explain and how. ``limit``: held-out digits (0: all); ``shift``: px between a
    digit's thickness and its target; ``tolerance``: the validity band (px);
    ``methods`` / ``reliable``: registry names (only methods that take regression targets);
    ``diverse``: CEs per input in the diversity study (1: no study), with every mechanism
    of ``mechanisms`` at every noise ``spreads``."""

    limit: int = 250
    shift: float = 1.0
    tolerance: float = 0.3
    methods: tuple[str, ...] = ("leapfactual", "opt", "latent_attack")
    reliable: tuple[str, ...] = ("leapfactual", "latent_attack")
    opt_steps: int = 1000
    attack_steps: int = 1000
    diverse: int = 4
    mechanisms: tuple[str, ...] = ("noise", "repel")
    spreads: tuple[float, ...] = (1.0, 2.0, 4.0)

    def __post_init__(self) -> None:
        if not (self.limit == 0 or self.limit >= 4) or self.opt_steps < 1 or self.attack_steps < 1:
            raise ValueError("limit must be 0 (all) or >= 4, and opt_steps, attack_steps >= 1")
        if not (math.isfinite(self.shift) and self.shift > 0):
            raise ValueError(f"shift must be a finite number of px > 0, got {self.shift}")
        if not (math.isfinite(self.tolerance) and self.tolerance > 0):
            raise ValueError(f"tolerance must be a finite number of px > 0, got {self.tolerance}")
        if self.diverse < 1 or (self.diverse > 1 and not (self.mechanisms and self.spreads)):
            raise ValueError("diverse must be >= 1, with mechanisms and spreads when above 1")
        for mechanism in self.mechanisms:
            for spread in self.spreads:
                Diversity(mechanism, spread)


@dataclass
class RegressionBenchResult:
    table: Table
    diversity: Table | None
    run: Run
    task: StrokeTask
    index: Tensor  # dataset rows that were explained
    target: Tensor  # the thickness each was explained toward
    images: dict[str, Tensor]  # column -> CEs (plus "input" and "true CE"), for the figure
    diverse: dict[str, Explanation]  # diversity column -> its explanation (K per input)
    seconds: float


def regression_fit_config(base: str = "mnist5k", **settings: object) -> FitSettings:
    """Run settings of the task on ``base``: a regressor on ``stroke-thickness[:BASE]``, so
    ``load_run`` and ``leapfactual explain`` rebuild the data."""
    data = "stroke-thickness" if base == "mnist5k" else f"stroke-thickness:{base}"
    classifier = settings.pop("classifier", ClassifierSettings())
    assert isinstance(classifier, ClassifierSettings)
    return FitSettings(data=data, classifier=replace(classifier, kind="regressor"), **settings)  # type: ignore[arg-type]


def targets_of(thickness: Tensor, shift: float, span: tuple[float, float]) -> Tensor:
    """``thickness + shift`` below the middle of ``span``, else ``thickness - shift``."""
    middle = (span[0] + span[1]) / 2
    return torch.where(thickness < middle, thickness + shift, thickness - shift).double()


def run_regression_bench(
    run_dir: str | Path,
    fit: FitSettings | None = None,
    config: RegressionBenchConfig | None = None,
    progress: bool = False,
    task: StrokeTask | None = None,
    device: str | torch.device | None = None,
) -> RegressionBenchResult:
    """Build the task, fit or reuse the run on ``device``, explain ``config.limit`` held-out
    digits with every method, score them against the true CEs, then run the diversity study.

    ``task`` replaces the one ``fit.data`` names (a smaller one, say); the run directory
    then belongs to it."""
    start = time.perf_counter()
    fit = fit or regression_fit_config()
    config = config or RegressionBenchConfig()
    name, _, base = fit.data.partition(":")
    if name != "stroke-thickness" or fit.classifier.kind != "regressor":
        raise ValueError(
            "the regression benchmark needs data 'stroke-thickness[:BASE]' and "
            f"classifier.kind = 'regressor', got {fit.data!r} and {fit.classifier.kind!r}"
        )
    say = (lambda text: print(f"bench: {text}", flush=True)) if progress else (lambda _: None)
    if task is None:
        say("setting every digit's stroke thickness (about 8 ms each)")
        task = stroke_task(load_dataset(base or "mnist5k"))
    stages = ("vae", "classifier", "flow")
    run = fit_run(run_dir, fit, stages, progress=progress, dataset=task.dataset, device=device)
    assert run.vae is not None and run.classifier is not None and task.dataset.values is not None
    n = len(run.test_idx) if config.limit == 0 else min(config.limit, len(run.test_idx))
    index = run.test_idx[:n]
    x = task.dataset.images[index]
    target = targets_of(task.dataset.values[index].double(), config.shift, task.span)
    x_true = task.true_counterfactual(index, target)
    m_true = measure(x_true)
    tol = config.tolerance

    @torch.no_grad()
    def judged(images: Tensor) -> dict[str, Cell]:
        values = predict_probs(run.classifier, images, "value")[:, 0].double()  # type: ignore[arg-type]
        miss = (values - target).abs()
        cells: dict[str, Cell] = {
            VALID: value_validity(values, target, tol),
            MISS: float(miss.mean()),
        }
        scores = ground_truth_scores(images, x_true, target, true_measurements=m_true)
        return cells | {ROW_NAMES[k]: v for k, v in scores.items()}

    models = run.models()
    options = {
        "leapfactual": {"tolerance": tol},
        "opt": {"steps": config.opt_steps, "tolerance": tol},
        "latent_attack": {"max_steps": config.attack_steps, "tolerance": tol},
    }
    chosen = {m: options.get(m, {"tolerance": tol}) for m in config.methods}
    reliable: dict[str, dict[str, object]] = {m: {} for m in config.reliable if m in config.methods}
    methods = registry_methods(models, config.methods, chosen, reliable)
    ctx = BenchContext(x=x, target=target.float())
    bench = Benchmark(ctx, methods, [lambda col, _: judged(col.x_cf), cost_rows])
    table, images = run_with_references(bench, x, x_true, judged, run.vae, say)
    study: Table | None = None
    diverse: dict[str, Explanation] = {}
    if config.diverse > 1:
        say(f"diversity: {config.diverse} CEs per input")
        study, diverse = diversity_study(run, x, target, x_true, config)
    seconds = time.perf_counter() - start
    return RegressionBenchResult(table, study, run, task, index, target, images, diverse, seconds)


def diversity_study(
    run: Run, x: Tensor, target: Tensor, x_true: Tensor, config: RegressionBenchConfig
) -> tuple[Table, dict[str, Explanation]]:
    """LeapFactual with ``config.diverse`` CEs per input for every mechanism and spread (and
    the single CE for reference), scored by validity, proximity, truth and diversity."""
    k, tol = config.diverse, config.tolerance
    rows_true = x_true.repeat_interleave(k, 0)
    m_true = measure(x_true)
    m_rows = {name: np.repeat(values, k) for name, values in m_true.items()}
    goal = target.repeat_interleave(k, 0)
    table = Table([])
    explanations: dict[str, Explanation] = {}
    settings = [(m, s) for m in config.mechanisms for s in config.spreads]
    single, _ = build_explainer("leapfactual", run.models(), tolerance=tol)
    base = single.explain(x, target.float())
    columns: list[tuple[str, Explanation, int]] = [("one CE (K = 1)", base, 1)]
    for mechanism, spread in settings:
        explainer, _ = build_explainer(
            "leapfactual", run.models(), tolerance=tol, diversity=Diversity(mechanism, spread)
        )
        name = f"{mechanism}, spread {spread:g}"
        exp = explainer.explain(x, target.float(), diverse=k)
        explanations[name] = exp
        columns.append((name, exp, k))
    for name, exp, copies in columns:
        table.columns.append(name)
        truth = rows_true if copies > 1 else x_true
        aim = goal if copies > 1 else target
        for label, images, probs in (
            ("CE", exp.x_cf, exp.probs_cf),
            ("reliable CE", exp.x_reliable, exp.probs_reliable),
        ):
            assert images is not None and probs is not None
            valid = value_validity(probs[:, 0], aim, tol)
            table.set(f"validity, {label}", name, valid)
            table.set(f"L1 to input, {label}", name, proximity(images, exp.x)["l1"])
            known = m_rows if copies > 1 else m_true
            scores = ground_truth_scores(images, truth, aim, true_measurements=known)
            table.set(f"L1 to true CE, {label}", name, scores["l1"])
            table.set(f"thickness error (px), {label}", name, scores["error"])
            if copies > 1:
                spread_of = diversity(images, exp.x, copies)
                table.set(f"{PAIR_L1}, {label}", name, spread_of["l1"])
                table.set(f"{PAIR_COS}, {label}", name, spread_of["change_cosine"])
                both = exp.reaches(probs)
                table.set(
                    f"{PAIR_L1}, valid pairs, {label}",
                    name,
                    diversity(images, exp.x, copies, both)["l1"],
                )
    return table, explanations


def save_figure(result: RegressionBenchResult, path: str | Path, count: int = 8) -> Path:
    """A grid: ``count`` held-out digits (columns); rows are the input, the true CE, and
    every method's CE, each column titled by its thickness → target."""
    rows = list(result.images)
    grid = torch.stack([result.images[r][:count].float().cpu() for r in rows])
    values = result.task.dataset.values
    assert values is not None
    names = [
        f"{float(values[i]):.1f}→{float(t):.1f}"
        for i, t in zip(result.index[:count], result.target[:count], strict=True)
    ]
    return save_grid_figure(
        grid,
        names,
        path,
        row_labels=rows,
        xlabel="held-out digit: thickness → target (px)",
        ylabel="",
    )


def save_diverse_figure(
    result: RegressionBenchResult, path: str | Path, column: str, count: int = 6
) -> Path:
    """The K reliable CEs of ``count`` digits side by side (rows: digits; columns: the input,
    its true CE, then CE 1..K of the diversity column ``column``)."""
    exp = result.diverse[column]
    assert exp.variant is not None and exp.x_reliable is not None
    k = int(exp.variant.max()) + 1
    ces = exp.x_reliable.view(-1, k, *exp.x.shape[1:])[:count]
    inputs = result.images["input"][:count].unsqueeze(1)
    truth = result.images["true CE"][:count].unsqueeze(1)
    grid = torch.cat([inputs, truth, ces.to(inputs.dtype)], dim=1).float().cpu()
    names = ["input", "true CE", *[f"CE {i + 1}" for i in range(k)]]
    labels = [f"→ {float(t):.1f} px" for t in result.target[:count]]
    return save_grid_figure(
        grid, names, path, row_labels=labels, xlabel=f"LeapFactual, {column}", ylabel=""
    )


def comparisons(table: Table) -> list[str]:
    """Sentences, generated from the numbers, on which methods come closest to the truth."""
    methods = [c for c in table.columns if c not in (NO_CHANGE, FLOOR)]

    def v(row: str, col: str) -> float:
        return table.mean(row, col)

    def best(row: str, low: bool) -> str:
        top = min(v(row, c) for c in methods) if low else max(v(row, c) for c in methods)
        tied = [c for c in methods if round(v(row, c), 3) == round(top, 3)]
        return f"{' and '.join(tied)} ({top:.3f})"

    if not methods:
        return []
    l1, err = ROW_NAMES["l1"], ROW_NAMES["error"]
    return [
        f"Highest validity under the regressor: {best(VALID, low=False)}.",
        f"Closest to the true CE (L1): {best(l1, low=True)}; doing nothing scores "
        f"{v(l1, NO_CHANGE):.3f} and the codec's floor {v(l1, FLOOR):.3f}.",
        f"Smallest error on the measured thickness (px): {best(err, low=True)}; the floor "
        f"{v(err, FLOOR):.3f}, no change {v(err, NO_CHANGE):.3f}.",
        f"Cheapest in network evaluations per CE: {best('network evaluations per CE', True)}.",
    ]


ROW_VALID, ROW_L1 = "validity, reliable CE", "L1 to input, reliable CE"
ROW_PAIR, ROW_COS = f"{PAIR_L1}, reliable CE", f"{PAIR_COS}, reliable CE"
VALIDITY_LOSS = 0.05
"""The validity a diverse setting may lose against one CE and still count as keeping it."""


def most_diverse(table: Table) -> str:
    """The diversity column whose reliable CEs differ most while losing at most
    :data:`VALIDITY_LOSS` validity against one CE per input (else the most valid one)."""
    base, columns = table.columns[0], table.columns[1:]
    floor = table.mean(ROW_VALID, base) - VALIDITY_LOSS
    kept = [c for c in columns if table.mean(ROW_VALID, c) >= floor]
    if kept:
        return max(kept, key=lambda c: table.mean(ROW_PAIR, c))
    return max(columns, key=lambda c: table.mean(ROW_VALID, c))


def diversity_sentences(table: Table) -> list[str]:
    """What the diversity study says, from its numbers: the spread each mechanism needs to
    differ, and what that costs in validity and proximity."""
    base = table.columns[0]
    row_valid, row_l1, row_pair, row_cos = ROW_VALID, ROW_L1, ROW_PAIR, ROW_COS
    out = [
        f"One CE per input: validity {table.mean(row_valid, base):.3f} (reliable CE), L1 to "
        f"the input {table.mean(row_l1, base):.3f}."
    ]
    for column in table.columns[1:]:
        out.append(
            f"{column}: the K reliable CEs differ by {table.mean(row_pair, column):.3f} L1 "
            f"(1 − cos of their changes {table.mean(row_cos, column):.3f}) at validity "
            f"{table.mean(row_valid, column):.3f} and L1 to the input "
            f"{table.mean(row_l1, column):.3f}."
        )
    pick = most_diverse(table)
    drop = table.mean(row_valid, base) - table.mean(row_valid, pick)
    if drop <= VALIDITY_LOSS:
        lead = f"Most diverse while losing at most {VALIDITY_LOSS:g} validity"
    else:
        lead = f"No setting keeps validity within {VALIDITY_LOSS:g}; the most valid"
    out.append(
        f"{lead}: {pick} (pairwise L1 {table.mean(row_pair, pick):.3f}, validity "
        f"{drop:.3f} below one CE)."
    )
    pairs = [(c, "repel" + c[len("noise") :]) for c in table.columns if c.startswith("noise")]
    pairs = [(n, r) for n, r in pairs if r in table.columns]
    if pairs:
        worse = sum(table.mean(row_valid, r) < table.mean(row_valid, n) for n, r in pairs)
        more = sum(table.mean(row_pair, r) > table.mean(row_pair, n) for n, r in pairs)
        out.append(
            f"repel against noise at the same spread: lower validity at {worse} of "
            f"{len(pairs)} spreads, larger pairwise L1 at {more} of {len(pairs)}."
        )
    return out


def write_regression_page(
    result: RegressionBenchResult, path: str | Path, command: str, config: RegressionBenchConfig
) -> Path:
    """The Markdown page: tables, figures (next to it, ``.png`` files) and the set-up."""
    page = Path(path)
    figure = save_figure(result, page.with_suffix(".png"))
    run, task = result.run, result.task
    summary = run.summary
    table = [
        f"Rows: validity (the regressor's value of the CE within ±{config.tolerance:g} px of "
        f"the target t) and the mean {MISS}; L1 (mean absolute pixel difference) and SSIM to "
        "the true CE; |thickness(x') − t| measured (mean ± SEM); the relative change of "
        "length, slant, width and height against the true CE (mean ± SEM), which a thickness "
        f"intervention should leave alone; cost. `{NO_CHANGE}` scores the input itself, "
        f"`{FLOOR}` the true CE reconstructed by the VAE, the best any latent-space method can "
        "reach.",
        "",
        result.table.to_markdown(),
        f"![inputs, true CEs and every method's CE]({figure.name})",
        "",
        "*Rows: the input, its true CE, then each method's CE; columns: held-out digits, "
        "titled by thickness → target.*",
    ]
    said = [
        *[f"- {s}" for s in comparisons(result.table)],
        "",
        f"Settings: targets {config.shift:g} px thicker below the middle of the range, else "
        f"thinner; Opt-based {config.opt_steps} steps; latent attack at most "
        f"{config.attack_steps} steps (reliable: τ = 0.99, i.e. within "
        f"{0.02 * config.tolerance:g} px); LeapFactual with the run's default schedule.",
    ]
    sections: list[tuple[str | None, list[str]]] = [(None, table), ("What the numbers say", said)]
    study = result.diversity
    if study is not None:
        best = most_diverse(study)
        side = save_diverse_figure(result, page.with_name(page.stem + "-diverse.png"), best)
        lines = [
            "LeapFactual with `diverse=K`: copy 1 is the usual CE; the others land every "
            "blending leap from their lifted latent plus seeded noise of standard deviation "
            "spread × γ (`noise`), and with `repel` also drop the part of their change that "
            "lies along the earlier copies' changes. Rows: validity, L1 to the input and to "
            "the true CE and thickness error over all K CEs; the mean pairwise L1 between the "
            "K CEs of an input (all pairs, and only pairs where both are valid) and the mean "
            "1 − cosine of their changes x' − x (0: the same change; 1: unrelated).",
            "",
            study.to_markdown(),
            f"![the K reliable CEs of a few digits]({side.name})",
            "",
            f"*The K reliable CEs of held-out digits side by side ({best}).*",
            "",
            *[f"- {s}" for s in diversity_sentences(study)],
        ]
        sections.append((f"Several CEs per input (K = {config.diverse})", lines))
    low, high = task.span
    return write_page(
        page,
        "Ground truth: a stroke-thickness regressor",
        command,
        f"`{run.config.data}` (`{task.dataset.name}`): {len(task.dataset)} digits, each set "
        f"to a stroke thickness drawn uniformly from {low:g}-{high:g} px (seed 0) by the "
        f"Morpho-MNIST intervention; that thickness is its value. {len(run.train_idx)} "
        f"training / {len(run.test_idx)} held-out digits (split seed {run.config.seed}).",
        result.seconds,
        [
            f"Explained: the first {len(result.index)} held-out digits. The true CE of "
            "'thickness t' is the same base digit set to t.",
            f"Regressor (CNN, squared error) held-out mean absolute error "
            f"{summary.get('regressor_test_mae', math.nan):.3f} px; it moves by "
            f"{summary.get('regressor_change_on_reconstructions', math.nan):.3f} px on "
            f"average from an image to its VAE reconstruction. VAE held-out PSNR "
            f"{summary.get('vae_test_psnr', math.nan):.1f} dB, SSIM "
            f"{summary.get('vae_test_ssim', math.nan):.3f}.",
        ],
        sections,
    )


__all__ = [
    "RegressionBenchConfig",
    "RegressionBenchResult",
    "comparisons",
    "diversity_sentences",
    "diversity_study",
    "most_diverse",
    "regression_fit_config",
    "run_regression_bench",
    "save_diverse_figure",
    "save_figure",
    "targets_of",
    "write_regression_page",
]
