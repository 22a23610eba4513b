"""Model-truth divergence (METHOD.md 4, 7): are CEs of a weak model valid under the truth?

A weak classifier (a stratified ``weak_fraction`` of the training set) is the model being
explained; the truth is a strong classifier trained on all of it. For each method we report
the CE's validity under the model, under the truth, and the gap, for plain CEs and for each
method's "reliable" variant: LeapFactual's injection, and for the baselines the nearest
thing they have (attacks stopped at a higher confidence, a longer reflection). The claim
tested: injection raises validity under the truth.
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

from leapfactual.data import load_dataset, stratified_split, train_test_split
from leapfactual.experiments._shared import (
    LEAN,
    WeakStrong,
    fit_weak_strong,
    machine,
    mean_std,
    model_settings,
    pm,
    pyplot,
    relative,
)
from leapfactual.explain import (
    Blend,
    CGMBased,
    Explainer,
    Inject,
    LatentAttack,
    LatentReflection,
    LeapFactual,
    OptBased,
    PixelAttack,
)
from leapfactual.explain.targets import random_other_targets
from leapfactual.flow import Solver
from leapfactual.io import atomic_write_text
from leapfactual.metrics import validity
from leapfactual.pipeline import FitConfig

METHODS = ("leapfactual", "opt", "cgm", "attack", "pixel", "reflection")


@dataclass(frozen=True)
class DivergenceConfig:
    """Data, seeds, sizes and the methods' budgets."""

    data: str = "mnist5k"
    seeds: tuple[int, ...] = (0, 1, 2)
    weak_fraction: float = 0.2
    test_fraction: float = 0.2
    n_explain: int = 100
    n_train: int | None = 2000
    methods: tuple[str, ...] = METHODS
    opt_steps: int = 200
    attack_steps: int = 200
    reliable_tau: float = 0.99
    models: FitConfig = LEAN

    def __post_init__(self) -> None:
        unknown = sorted(set(self.methods) - set(METHODS))
        if unknown:
            raise ValueError(f"unknown methods {unknown}; choose from {list(METHODS)}")
        if self.n_explain < 2 or not self.seeds:
            raise ValueError("need n_explain >= 2 and at least one seed")


Variants = dict[str, tuple[Explainer, str]]  # column -> (explainer, "cf" | "reliable")


def explainers(model: WeakStrong, cfg: DivergenceConfig, probe_images: Tensor) -> Variants:
    """Every method's CE and reliable-CE variant on the weak model; the reflection's linear
    probe is fitted on the latents of ``probe_images``, labelled by the weak model."""
    weak, vae, out, tau = model.weak, model.vae, {}, cfg.reliable_tau
    for name in cfg.methods:
        if name == "leapfactual":
            lf = LeapFactual(
                weak, vae, model.flow, Blend(), Inject(), Solver("rk4", 4), batch_size=1024
            )
            out |= {"LeapFactual": (lf, "cf"), "LeapFactual reliable": (lf, "reliable")}
        elif name == "opt":
            out["Opt-based"] = (OptBased(weak, vae, steps=cfg.opt_steps, batch_size=1024), "cf")
        elif name == "cgm":
            if model.cvae is None:
                raise ValueError("the CGM baseline needs the CVAE: fit with cvae=True")
            out["CGM-based"] = (CGMBased(weak, model.cvae, batch_size=1024), "cf")
        elif name == "attack":
            for label, t in (("Latent attack", 0.5), (f"Latent attack τ={tau}", tau)):
                a = LatentAttack(weak, vae, tau=t, max_steps=cfg.attack_steps, batch_size=1024)
                out[label] = (a, "cf")
        elif name == "pixel":
            for label, t in (("Pixel attack", 0.5), (f"Pixel attack τ={tau}", tau)):
                p = PixelAttack(weak, tau=t, max_steps=cfg.attack_steps, batch_size=1024)
                out[label] = (p, "cf")
        elif name == "reflection":
            for label, s in (("Reflection", 2.0), ("Reflection ×2", 4.0)):
                r = LatentReflection(weak, vae, scale=s, batch_size=1024).fit(probe_images)
                out[label] = (r, "cf")
    return out


RELIABLE_OF = {  # plain column -> its reliable variant
    "LeapFactual": "LeapFactual reliable",
    "Latent attack": "Latent attack τ={tau}",
    "Pixel attack": "Pixel attack τ={tau}",
    "Reflection": "Reflection ×2",
}


@dataclass
class DivergenceResult:
    config: DivergenceConfig
    rows: list[dict[str, Any]]  # one per (seed, column)
    summary: dict[str, Any]
    seconds: float
    page: Path | None = None
    plot: Path | None = None


def run_seed(
    cfg: DivergenceConfig, seed: int, log: Callable[[str], None] = lambda _: None
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Fit the weak/strong models for ``seed``, explain, and score every column."""
    data = load_dataset(cfg.data)
    train, test = train_test_split(data, cfg.test_fraction, seed)
    if cfg.n_train is not None and cfg.n_train < len(train):
        train = train.subset(stratified_split(train.labels, [cfg.n_train / len(train)], seed)[0])
    log(f"seed {seed}: fitting VAE, weak and strong classifiers, flow, CVAE")
    model = fit_weak_strong(train, cfg.models, seed, cfg.weak_fraction, cvae="cgm" in cfg.methods)
    models = {
        "weak_test_accuracy": _accuracy(model.weak, test),
        "strong_test_accuracy": _accuracy(model.strong, test),
    }
    n = min(cfg.n_explain, len(test))
    x = test.images[:n]
    with torch.no_grad():
        source = model.weak(x).argmax(1)
    target = random_other_targets(source, 10, seed)
    rows, done = [], {}
    for column, (explainer, output) in explainers(model, cfg, train.images).items():
        log(f"seed {seed}: {column}")
        key = id(explainer)
        if key not in done:
            done[key] = explainer.explain(x, target)
        exp = done[key]
        x_cf = exp.x_reliable if output == "reliable" else exp.x_cf
        assert x_cf is not None
        rows.append(score(column, seed, x_cf, target, model, exp.cost.seconds / n))
    return rows, models


@torch.no_grad()
def score(
    column: str, seed: int, x_cf: Tensor, target: Tensor, model: WeakStrong, seconds: float
) -> dict[str, Any]:
    """Validity under the weak model and under the strong one, and their gap."""
    under_model = validity(model.weak(x_cf), target)
    under_truth = validity(model.strong(x_cf), target)
    return {
        "column": column,
        "seed": seed,
        "validity_model": under_model,
        "validity_truth": under_truth,
        "gap": under_model - under_truth,
        "seconds_per_ce": seconds,
    }


def _accuracy(model: Callable[[Tensor], Tensor], data: Any) -> float:
    with torch.no_grad():
        return float((model(data.images).argmax(1) == data.labels).float().mean())


def run_divergence(
    cfg: DivergenceConfig = DivergenceConfig(),
    out_dir: str | Path = "runs/divergence",
    page: str | Path | None = "docs/results/divergence.md",
    command: str = "leapfactual divergence",
    log: Callable[[str], None] = lambda _: None,
) -> DivergenceResult:
    """Run every seed, write ``results.json`` in ``out_dir`` and (``page``) the results page
    with its plot next to it."""
    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    models: dict[str, list[float]] = {}
    for seed in cfg.seeds:
        seed_rows, seed_models = run_seed(cfg, seed, log)
        rows += seed_rows
        for k, v in seed_models.items():
            models.setdefault(k, []).append(v)
    summary = summarise(rows, cfg)
    summary["models"] = {k: mean_std(v) for k, v in models.items()}
    result = DivergenceResult(cfg, rows, summary, time.perf_counter() - start)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    payload = {"config": asdict(cfg), "rows": rows, "summary": summary, "seconds": result.seconds}
    atomic_write_text(out / "results.json", json.dumps(payload, indent=2))
    if page is not None:
        result.page = Path(page)
        result.plot = result.page.with_suffix(".png")
        plot(result, result.plot)
        atomic_write_text(result.page, render(result, command))
    return result


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
    if "LeapFactual reliable" in table:
        ce = values(rows, "LeapFactual", "validity_truth")
        rel = values(rows, "LeapFactual reliable", "validity_truth")
        claim = {
            "seeds_where_injection_raises_truth_validity": sum(
                r > c for r, c in zip(rel, ce, strict=True)
            ),
            "seeds": len(ce),
            "mean_change": mean_std([r - c for r, c in zip(rel, ce, strict=True)]),
        }
    return {"table": table, "claim": claim}


def render(result: DivergenceResult, command: str) -> str:
    """The results page (Markdown); every number comes from ``result``."""
    cfg, s = result.config, result.summary
    m = s["models"]
    lines = [
        "# Model-truth divergence",
        "",
        "*Written by the command below; do not edit by hand.*",
        "",
        f"- Command: `{command}`",
        f"- Data: `{cfg.data}`, stratified {1 - cfg.test_fraction:.0%} / {cfg.test_fraction:.0%} "
        f"train/test split per seed, training set cut to {cfg.n_train or 'all'} images "
        f"(stratified); the weak classifier sees {cfg.weak_fraction:.0%} of the "
        "training set, the truth (strong classifier, same architecture, other seed) all of it.",
        f"- Seeds: {', '.join(map(str, cfg.seeds))}; {cfg.n_explain} held-out images per seed, "
        "each toward a random class other than the weak model's prediction (seeded).",
        f"- Test accuracy: weak {m['weak_test_accuracy'][0]:.3f} ± {m['weak_test_accuracy'][1]:.3f}"
        f", strong {m['strong_test_accuracy'][0]:.3f} ± {m['strong_test_accuracy'][1]:.3f}.",
        f"- Models: {json.dumps(model_settings(cfg.models))}",
        f"- Machine: {machine()}; total {result.seconds / 60:.1f} min.",
        "",
        "Validity = fraction of CEs whose argmax is the target; gap = model − truth. "
        "Mean ± std over seeds.",
        "",
        "| method | validity (model) | validity (truth) | gap | seconds per CE |",
        "|---|---|---|---|---|",
    ]
    for c in columns(result.rows):
        cells = [pm(values(result.rows, c, k)) for k in ("validity_model", "validity_truth", "gap")]
        secs = pm(values(result.rows, c, "seconds_per_ce"), 4)
        lines.append(f"| {c} | {' | '.join(cells)} | {secs} |")
    lines += [
        "",
        f"![validity under model and truth]({result.plot.name if result.plot else ''})",
        "",
    ]
    lines += ["## The claim: injection raises validity under the truth", "", *claim_text(s), ""]
    lines += ["## Reliable variants of the other methods", "", *variant_text(result), ""]
    lines += [
        "Reliable variants: LeapFactual's injection (Inject defaults: 5 leaps, γ lift 0, land "
        f"0.1); the attacks stop at p(target) > {cfg.reliable_tau} instead of 0.5; the "
        "reflection moves twice as far past the probe's hyperplane. Opt-based (steps "
        f"{cfg.opt_steps}, paper 1,000) and CGM-based have one variant. Attacks run at most "
        f"{cfg.attack_steps} steps.",
        "",
    ]
    return "\n".join(lines)


def claim_text(s: dict[str, Any]) -> list[str]:
    c = s["claim"]
    if not c:
        return ["LeapFactual was not run, so the claim was not tested."]
    t = s["table"]
    ce, rel = t["LeapFactual"]["validity_truth"][0], t["LeapFactual reliable"]["validity_truth"][0]
    gap_ce, gap_rel = t["LeapFactual"]["gap"][0], t["LeapFactual reliable"]["gap"][0]
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
    for plain, rel in RELIABLE_OF.items():
        rel = rel.format(tau=result.config.reliable_tau)
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
    plt = pyplot()
    cols = columns(result.rows)
    t = result.summary["table"]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(cols)), 4.0))
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
    plt.close(fig)
    return path


__all__ = ["DivergenceConfig", "DivergenceResult", "explainers", "relative", "run_divergence"]
