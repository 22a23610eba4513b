"""Model-truth divergence (docs/method.md §5, §8): are CEs of a weak model valid under the truth?

A weak classifier (a stratified ``weak_fraction`` of the training set) is the model being
explained; the truth is a strong classifier trained on all of it. For each method we report
the CE's validity under the model, under the truth, and the gap, for plain CEs and for each
method's "reliable" variant: LeapFactual's injection, and for the baselines the nearest
thing they have (attacks stopped at a higher confidence, a longer reflection). The claim
tested: injection raises validity under the truth. :func:`run_divergence` computes;
:func:`write_divergence_page` writes the page, its plot and every row.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from leapfactual.data import Dataset, load_dataset, stratified_split, train_test_split
from leapfactual.distributed import resolve_device
from leapfactual.explain import Models, method_info, random_other_targets
from leapfactual.io import write_json
from leapfactual.metrics import validity
from leapfactual.pipeline import FitSettings, predict_probs
from paper.bench import BenchContext, Benchmark, Method, registry_methods
from paper.experiments._shared import (
    LEAN,
    WeakStrong,
    fit_weak_strong,
    mean_std,
    model_settings,
    pm,
)
from paper.pages import write_page

METHODS = ("leapfactual", "opt", "cgm", "latent_attack", "pixel_attack", "reflection")
"""The methods compared, by their registry names."""
BATCH = 1024
LEAP = method_info("leapfactual")


@dataclass(frozen=True)
class DivergenceConfig:
    """Data, seeds, sizes and the methods' budgets; ``limit``: held-out images explained
    per seed (0: all); ``methods``: registry names."""

    data: str = "mnist5k"
    seeds: tuple[int, ...] = (0, 1, 2)
    weak_fraction: float = 0.2
    test_fraction: float = 0.2
    limit: int = 100
    n_train: int | None = 2000
    methods: tuple[str, ...] = METHODS
    opt_steps: int = 200
    attack_steps: int = 200
    reliable_tau: float = 0.99
    models: FitSettings = LEAN

    def __post_init__(self) -> None:
        for name in self.methods:
            method_info(name)
        if not self.methods or len(set(self.methods)) != len(self.methods):
            raise ValueError(f"give at least one method and no repeats, got {self.methods}")
        if not (self.limit == 0 or self.limit >= 2) or not self.seeds:
            raise ValueError("need limit 0 (all) or >= 2, and at least one seed")


def reliable_variants(cfg: DivergenceConfig) -> dict[str, dict[str, Any]]:
    """The reliable variant of every method that has one, with its options: the registry's,
    except that attacks stop at ``cfg.reliable_tau``."""
    out = {}
    for name in cfg.methods:
        info = method_info(name)
        if info.reliable is not None:
            tau = "tau" in info.reliable_options()
            out[name] = {"tau": cfg.reliable_tau} if tau else {}
    return out


def explainers(model: WeakStrong, cfg: DivergenceConfig, probe_images: Tensor) -> list[Method]:
    """Every method's CE and reliable-CE columns on the weak model (from the registry); the
    reflection's linear probe is fitted on the latents of ``probe_images``, labelled by the
    weak model."""
    models = Models(model.weak, model.vae, model.flow, model.cvae, probe_images=probe_images)
    budgets = {
        "opt": {"steps": cfg.opt_steps},
        "latent_attack": {"max_steps": cfg.attack_steps},
        "pixel_attack": {"max_steps": cfg.attack_steps},
    }
    options = {m: {"batch_size": BATCH, **budgets.get(m, {})} for m in cfg.methods}
    return registry_methods(models, cfg.methods, options, reliable_variants(cfg))


@dataclass
class DivergenceResult:
    config: DivergenceConfig
    rows: list[dict[str, Any]]  # one per (seed, column)
    summary: dict[str, Any]
    seconds: float


def load_train_test(cfg: DivergenceConfig, seed: int) -> tuple[Dataset, Dataset]:
    """The seed's stratified split, the training set cut to ``n_train`` (stratified)."""
    train, test = train_test_split(load_dataset(cfg.data), cfg.test_fraction, seed)
    if cfg.n_train is not None and cfg.n_train < len(train):
        train = train.subset(stratified_split(train.labels, [cfg.n_train / len(train)], seed)[0])
    return train, test


def run_seed(
    cfg: DivergenceConfig,
    seed: int,
    log: Callable[[str], None] = lambda _: None,
    device: str | torch.device | None = None,
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Fit the weak/strong models for ``seed`` on ``device``, explain, and score every
    column (each explainer runs once: LeapFactual's two columns share one run)."""
    train, test = load_train_test(cfg, seed)
    log(f"seed {seed}: fitting VAE, weak and strong classifiers, flow, CVAE")
    model = fit_weak_strong(
        train, cfg.models, seed, cfg.weak_fraction, cvae="cgm" in cfg.methods, device=device
    )
    models = {
        "weak_test_accuracy": _accuracy(model.weak, test),
        "strong_test_accuracy": _accuracy(model.strong, test),
    }
    n = len(test) if cfg.limit == 0 else min(cfg.limit, len(test))
    x = test.images[:n]
    source = predict_probs(model.weak, x).argmax(1)
    target = random_other_targets(source, test.num_classes, seed)
    bench = Benchmark(BenchContext(x, target), explainers(model, cfg, train.images), [])
    rows = []
    for method in bench.methods:
        log(f"seed {seed}: {method.name}")
        column = bench.column(method)
        rows.append(score(method.name, seed, column.x_cf, target, model, column.cost.seconds / n))
    return rows, models


def score(
    column: str, seed: int, x_cf: Tensor, target: Tensor, model: WeakStrong, seconds: float
) -> dict[str, Any]:
    """Validity under the weak model and under the strong one, and their gap."""
    under_model = validity(predict_probs(model.weak, x_cf), target)
    under_truth = validity(predict_probs(model.strong, x_cf), target)
    return {
        "column": column,
        "seed": seed,
        "validity_model": under_model,
        "validity_truth": under_truth,
        "gap": under_model - under_truth,
        "seconds_per_ce": seconds,
    }


def _accuracy(model: Callable[[Tensor], Tensor], data: Dataset) -> float:
    return float((predict_probs(model, data.images).argmax(1) == data.labels).float().mean())


def run_divergence(
    cfg: DivergenceConfig = DivergenceConfig(),
    log: Callable[[str], None] = lambda _: None,
    device: str | torch.device | None = None,
) -> DivergenceResult:
    """Run every seed on ``device`` (default: this rank's GPU if any, else the CPU) and
    summarise; writes nothing (see :func:`write_divergence_page`)."""
    start = time.perf_counter()
    on = resolve_device(device)
    rows: list[dict[str, Any]] = []
    models: dict[str, list[float]] = {}
    for seed in cfg.seeds:
        seed_rows, seed_models = run_seed(cfg, seed, log, on)
        rows += seed_rows
        for k, v in seed_models.items():
            models.setdefault(k, []).append(v)
    summary = summarise(rows, cfg)
    summary["models"] = {k: mean_std(v) for k, v in models.items()}
    return DivergenceResult(cfg, rows, summary, time.perf_counter() - start)


def write_divergence_page(result: DivergenceResult, path: str | Path, command: str) -> Path:
    """Write the results page ``path`` (Markdown), its plot (``.png``) and every row
    (``.json``) next to it; return the page."""
    page = Path(path).with_suffix(".md")
    page.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "config": asdict(result.config),
        "rows": result.rows,
        "summary": result.summary,
        "seconds": result.seconds,
    }
    write_json(page.with_suffix(".json"), payload, indent=2)
    figure = plot(result, page.with_suffix(".png"))
    return render(result, page, command, figure.name)


def columns(rows: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(r["column"] for r in rows))


def values(rows: list[dict[str, Any]], column: str, key: str) -> list[float]:
    return [r[key] for r in rows if r["column"] == column]


def summarise(rows: list[dict[str, Any]], cfg: DivergenceConfig) -> dict[str, Any]:
    """Mean ± std per column, and the claim (injection raises validity under the truth),
    per seed and on the mean."""
    table = {
        c: {k: mean_std(values(rows, c, k)) for k in ("validity_model", "validity_truth", "gap")}
        for c in columns(rows)
    }
    claim: dict[str, Any] = {}
    if LEAP.reliable_title() in table:
        ce = values(rows, LEAP.title, "validity_truth")
        rel = values(rows, LEAP.reliable_title(), "validity_truth")
        claim = {
            "seeds_where_injection_raises_truth_validity": sum(
                r > c for r, c in zip(rel, ce, strict=True)
            ),
            "seeds": len(ce),
            "mean_change": mean_std([r - c for r, c in zip(rel, ce, strict=True)]),
        }
    return {"table": table, "claim": claim}


def render(result: DivergenceResult, page: Path, command: str, figure: str) -> Path:
    """Write the results page; every number comes from ``result``."""
    cfg, s = result.config, result.summary
    m = s["models"]
    table = [
        "Validity = fraction of CEs whose argmax is the target; gap = model − truth. "
        "Mean ± std over seeds.",
        "",
        "| method | validity (model) | validity (truth) | gap | seconds per CE |",
        "|---|---|---|---|---|",
    ]
    for c in columns(result.rows):
        cells = [pm(values(result.rows, c, k)) for k in ("validity_model", "validity_truth", "gap")]
        secs = pm(values(result.rows, c, "seconds_per_ce"), 4)
        table.append(f"| {c} | {' | '.join(cells)} | {secs} |")
    table += ["", f"![validity under model and truth]({figure})"]
    variants = [
        *variant_text(result),
        "",
        "Reliable variants: LeapFactual's injection (Inject defaults: 5 leaps, γ lift 0, land "
        f"0.1); the attacks stop at p(target) > {cfg.reliable_tau} instead of 0.5; the "
        "reflection moves twice as far past the probe's hyperplane. Opt-based (steps "
        f"{cfg.opt_steps}, paper 1,000) and CGM-based have one variant. Attacks run at most "
        f"{cfg.attack_steps} steps.",
    ]
    return write_page(
        page,
        "Model-truth divergence",
        command,
        f"`{cfg.data}`, stratified {1 - cfg.test_fraction:.0%} / {cfg.test_fraction:.0%} "
        f"train/test split per seed, training set cut to {cfg.n_train or 'all'} images "
        f"(stratified); the weak classifier sees {cfg.weak_fraction:.0%} of the "
        "training set, the truth (strong classifier, same architecture, other seed) all of it.",
        result.seconds,
        [
            f"Seeds: {', '.join(map(str, cfg.seeds))}; {cfg.limit or 'all'} held-out images per "
            "seed, each toward a random class other than the weak model's prediction (seeded).",
            f"Test accuracy: weak {m['weak_test_accuracy'][0]:.3f} ± "
            f"{m['weak_test_accuracy'][1]:.3f}, strong {m['strong_test_accuracy'][0]:.3f} ± "
            f"{m['strong_test_accuracy'][1]:.3f}.",
            f"Models: {json.dumps(model_settings(cfg.models))}",
        ],
        [
            (None, table),
            ("The claim: injection raises validity under the truth", claim_text(s)),
            ("Reliable variants of the other methods", variants),
        ],
    )


def claim_text(s: dict[str, Any]) -> list[str]:
    c = s["claim"]
    if not c:
        return ["LeapFactual was not run, so the claim was not tested."]
    t = s["table"]
    plain, reliable = t[LEAP.title], t[LEAP.reliable_title()]
    ce, rel = plain["validity_truth"][0], reliable["validity_truth"][0]
    gap_ce, gap_rel = plain["gap"][0], reliable["gap"][0]
    holds = rel > ce and c["seeds_where_injection_raises_truth_validity"] == c["seeds"]
    verdict = (
        "The claim holds here"
        if holds
        else "The claim holds on the mean but not in every seed"
        if rel > ce
        else "The claim does not hold here"
    )
    return [
        f"{verdict}: validity under the truth is {rel:.3f} for reliable CEs against {ce:.3f} for "
        f"plain CEs (change {c['mean_change'][0]:+.3f} ± {c['mean_change'][1]:.3f}), higher in "
        f"{c['seeds_where_injection_raises_truth_validity']} of {c['seeds']} seeds. The gap "
        f"between model and truth goes from {gap_ce:.3f} to {gap_rel:.3f}."
    ]


def variant_text(result: DivergenceResult) -> list[str]:
    t = result.summary["table"]
    out = []
    for name, options in reliable_variants(result.config).items():
        info = method_info(name)
        plain, rel = info.title, info.reliable_title(options)
        if plain in t and rel in t:
            a, b = t[plain]["validity_truth"][0], t[rel]["validity_truth"][0]
            word = "raises" if b > a else "does not raise"
            out.append(
                f"- {plain}: the reliable variant {word} validity under the truth "
                f"({a:.3f} → {b:.3f})."
            )
    best = max(t, key=lambda c: t[c]["validity_truth"][0])
    out.append(f"- Highest validity under the truth: {best} ({t[best]['validity_truth'][0]:.3f}).")
    return out


def plot(result: DivergenceResult, path: Path) -> Path:
    """Grouped bars: validity under the model and under the truth, per column (± std)."""
    from leapfactual.report import figure

    cols = columns(result.rows)
    t = result.summary["table"]
    fig = figure(figsize=(max(6.0, 0.9 * len(cols)), 4.0))
    ax = fig.subplots()
    xs = range(len(cols))
    for offset, key, label in ((-0.2, "validity_model", "model"), (0.2, "validity_truth", "truth")):
        ax.bar(
            [x + offset for x in xs],
            [t[c][key][0] for c in cols],
            0.4,
            yerr=[t[c][key][1] for c in cols],
            label=f"validity under the {label}",
        )
    ax.set_xticks(list(xs), cols, rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("validity")
    ax.set_title(f"CEs of a weak classifier ({result.config.weak_fraction:.0%} of the labels)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


__all__ = [
    "METHODS",
    "DivergenceConfig",
    "DivergenceResult",
    "explainers",
    "reliable_variants",
    "run_divergence",
    "write_divergence_page",
]
