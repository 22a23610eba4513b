"""Model improvement (docs/method.md §6.3, the Galaxy10 protocol): CEs as new training data.

A weak classifier sees a stratified 20 % of the training pool. LeapFactual explains its
training images toward every other class; each CE (blending) and reliable CE (injection) is
labelled with its target. Adding a fraction of them to the weak set and retraining (same
architecture, same initial seed) is compared with the 20 % and 100 % baselines on held-out
accuracy and AUROC, over several seeds. The paper's claim: reliable CEs improve the weak
model more than plain CEs.

A fraction ``f`` means ``round(f * (K - 1) * |weak set|)`` added CEs: the share of all the CEs
the full protocol would make (every weak-set image toward the K - 1 other classes). Only as
many source images as the largest fraction needs are explained (seeded choice).
:func:`run_improvement` computes; :func:`write_improvement_page` writes the page, its plot
and every row.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from leapfactual.data import FASHION_MNIST_DIR, Dataset, load_dataset, stratified_split
from leapfactual.distributed import resolve_device
from leapfactual.explain import Blend, Inject, Models, all_other_targets, build_explainer
from leapfactual.io import write_json
from leapfactual.metrics import auroc
from leapfactual.pipeline import (
    ClassifierSettings,
    FitSettings,
    FlowSettings,
    VAESettings,
    fit_classifier,
    fit_vae,
    predict_probs,
)
from paper.experiments._shared import (
    LEAN,
    fit_weak_strong,
    mean_std,
    model_settings,
    pm,
)
from paper.pages import write_page

WEAK = "weak baseline"  # trained on the weak set only (20 % by default)
STRONG = "strong baseline"  # trained on the whole pool (100 %)


def default_data() -> str:
    """Fashion-MNIST when its Debian package is installed, mnist5k otherwise."""
    return (
        "fashion-mnist"
        if (FASHION_MNIST_DIR / "train-labels-idx1-ubyte.gz").exists()
        else ("mnist5k")
    )


@dataclass(frozen=True)
class ImproveConfig:
    """Data, seeds, sizes, fractions of CEs to add, and the CE filter."""

    data: str = field(default_factory=default_data)
    seeds: tuple[int, ...] = (0, 1, 2)
    n_train: int | None = 2000
    n_test: int | None = 1000
    test_fraction: float = 0.2
    weak_fraction: float = 0.2
    fractions: tuple[float, ...] = (0.0, 0.1, 0.3)
    oracle_filter: bool = False
    blend: Blend = Blend()
    inject: Inject = Inject()
    models: FitSettings = LEAN

    def __post_init__(self) -> None:
        if not self.seeds:
            raise ValueError("give at least one seed")
        if any(not 0.0 <= f <= 1.0 for f in self.fractions) or not self.fractions:
            raise ValueError(f"fractions must lie in [0, 1], got {self.fractions}")

    @classmethod
    def galaxy10(cls, path: str, **changes: Any) -> ImproveConfig:
        """The paper's setting on the Galaxy10 DECaLS file (needs a GPU; not run here):
        all 17,736 galaxies, 10 % test, larger models, 10 % added CEs; the flow as the
        paper's (width 256, 5 hidden layers, 500 epochs, lr 5e-4 times 0.1 from epoch 400, on
        one-hot conditions: the argmax of the classifier)."""
        flow = FlowSettings(
            width=256, depth=5, epochs=500, lr=5e-4, lr_milestones=(400,), condition="onehot"
        )
        models = FitSettings(
            vae=VAESettings(latent_dim=64, width=64, epochs=100),
            classifier=ClassifierSettings(width=64, epochs=30),
            flow=flow,
        )
        base = dict(
            data=f"galaxy10:{path}", n_train=None, n_test=None, test_fraction=0.1,
            fractions=(0.0, 0.1), blend=Blend(0.1, 250), inject=Inject(1.0, 1.025, 50),
            models=models,
        )  # fmt: skip
        return cls(**{**base, **changes})


def load_splits(cfg: ImproveConfig) -> tuple[Dataset, Dataset]:
    """The training pool and the test set: the dataset's own test split for Fashion-MNIST,
    else a stratified seeded split; each cut to ``n_train`` / ``n_test`` (stratified)."""
    if cfg.data.split(":")[0] == "fashion-mnist":
        pool, test = load_dataset(cfg.data), load_dataset(cfg.data, split="test")
    else:
        data = load_dataset(cfg.data)
        tr, te = stratified_split(data.labels, [1 - cfg.test_fraction, cfg.test_fraction], 0)
        pool, test = data.subset(tr), data.subset(te)
    if cfg.n_train is not None and cfg.n_train < len(pool):
        pool = pool.subset(stratified_split(pool.labels, [cfg.n_train / len(pool)], 0)[0])
    if cfg.n_test is not None and cfg.n_test < len(test):
        test = test.subset(stratified_split(test.labels, [cfg.n_test / len(test)], 0)[0])
    return pool, test


def scores(model: Callable[[Tensor], Tensor], test: Dataset) -> dict[str, float]:
    probs = predict_probs(model, test.images)
    return {
        "accuracy": float((probs.argmax(1) == test.labels).float().mean()),
        "auroc": auroc(probs, test.labels),
    }


def run_seed(
    cfg: ImproveConfig,
    pool: Dataset,
    test: Dataset,
    seed: int,
    vae: Any,
    log: Callable[[str], None] = lambda _: None,
    device: str | torch.device | None = None,
) -> list[dict[str, Any]]:
    """One seed on ``device``: baselines, CEs of the weak set, every retrained classifier."""
    log(f"seed {seed}: weak and strong classifiers, flow")
    m = fit_weak_strong(pool, cfg.models, seed, cfg.weak_fraction, vae=vae, device=device)
    weak_x, weak_y = pool.images[m.weak_idx], pool.labels[m.weak_idx]
    k = pool.num_classes
    rows = [
        {"seed": seed, "setting": WEAK, "kind": "baseline", "fraction": 0.0,
         "added": 0, **scores(m.weak, test)},
        {"seed": seed, "setting": STRONG, "kind": "baseline", "fraction": 0.0,
         "added": 0, **scores(m.strong, test)},
    ]  # fmt: skip
    full = (k - 1) * len(weak_x)
    n_src = min(len(weak_x), math.ceil(max(cfg.fractions) * len(weak_x)))
    gen = torch.Generator().manual_seed(seed)
    sources = torch.randperm(len(weak_x), generator=gen)[:n_src]
    src_rows, targets = all_other_targets(weak_y[sources], k)
    x = weak_x[sources][src_rows]
    log(f"seed {seed}: {len(x)} CEs and reliable CEs of {n_src} weak-set images")
    lf, _ = build_explainer(
        "leapfactual", Models(m.weak, m.vae, m.flow), blend=cfg.blend, inject=cfg.inject,
        batch_size=1024,
    )  # fmt: skip
    exp = lf.explain(x, targets) if len(x) else None
    order = torch.randperm(len(x), generator=gen)
    ces: dict[str, Tensor] = {}
    if exp is not None:
        assert exp.x_reliable is not None
        ces = {"CE": exp.x_cf, "reliable CE": exp.x_reliable}
    info = {}
    for kind, images in ces.items():
        strong_pred = predict_probs(m.strong, images).argmax(1)
        weak_pred = predict_probs(m.weak, images).argmax(1)
        info[kind] = {
            "validity_weak": float((weak_pred == targets).float().mean()),
            "validity_strong": float((strong_pred == targets).float().mean()),
        }
        pools = {kind: order}
        if cfg.oracle_filter:
            pools[f"{kind}, oracle-agreed"] = order[(strong_pred == targets)[order]]
        for name, candidates in pools.items():
            for f in cfg.fractions:
                want = round(f * full)
                if want == 0:
                    rows.append({"seed": seed, "setting": f"{name} 0%", "kind": name,
                                 "fraction": f, "added": 0, **scores(m.weak, test)})  # fmt: skip
                    continue
                take = candidates[:want]
                log(f"seed {seed}: retrain, {name} {f:.0%}: {len(take)} added")
                model = fit_classifier(
                    torch.cat([weak_x, images[take]]),
                    torch.cat([weak_y, targets[take]]),
                    k,
                    cfg.models.classifier,
                    seed + 1,  # the weak model's initial seed: only the data differ
                    device=device,
                )
                rows.append({"seed": seed, "setting": f"{name} {f:.0%}", "kind": name,
                             "fraction": f, "added": len(take), **scores(model, test)})  # fmt: skip
    for row in rows:
        row["ce_validity"] = info
    return rows


@dataclass
class ImproveResult:
    config: ImproveConfig
    rows: list[dict[str, Any]]
    seconds: float
    pool_size: int
    test_size: int
    num_classes: int

    def settings(self) -> list[str]:
        return list(dict.fromkeys(r["setting"] for r in self.rows))

    def values(self, setting: str, key: str) -> list[float]:
        return [r[key] for r in self.rows if r["setting"] == setting]

    def mean(self, setting: str, key: str) -> float:
        return mean_std(self.values(setting, key))[0]


def run_improvement(
    cfg: ImproveConfig = ImproveConfig(),
    log: Callable[[str], None] = lambda _: None,
    device: str | torch.device | None = None,
) -> ImproveResult:
    """Run every seed on ``device`` (default: this rank's GPU if any, else the CPU); writes
    nothing (see :func:`write_improvement_page`).

    The VAE is unsupervised and fitted once on the whole pool (first seed); everything that
    uses labels is refitted per seed."""
    start = time.perf_counter()
    on = resolve_device(device)
    pool, test = load_splits(cfg)
    log(f"{cfg.data}: pool {len(pool)}, test {len(test)}; fitting the VAE")
    vae = fit_vae(pool.images, cfg.models.vae, cfg.seeds[0], device=on)
    rows: list[dict[str, Any]] = []
    for seed in cfg.seeds:
        rows += run_seed(cfg, pool, test, seed, vae, log, on)
    seconds = time.perf_counter() - start
    return ImproveResult(cfg, rows, seconds, len(pool), len(test), pool.num_classes)


def write_improvement_page(result: ImproveResult, path: str | Path, command: str) -> Path:
    """Write the results page ``path`` (Markdown), its plot (``.png``) and every row
    (``.json``) next to it; return the page. Every number comes from ``result``."""
    page = Path(path).with_suffix(".md")
    page.parent.mkdir(parents=True, exist_ok=True)
    payload = {"config": asdict(result.config), "rows": result.rows, "seconds": result.seconds}
    write_json(page.with_suffix(".json"), payload, indent=2, default=str)
    figure = plot(result, page.with_suffix(".png"))
    cfg = result.config
    weak = round(cfg.weak_fraction * result.pool_size)
    table = [
        f"Test accuracy and AUROC (one-vs-rest, macro), mean ± std over seeds. {WEAK}: the "
        f"weak classifier ({cfg.weak_fraction:.0%} of the pool); {STRONG}: the same "
        "architecture on 100 % of the pool; X 0%: no CE added (the weak classifier).",
        "",
        "| setting | CEs added | test accuracy | AUROC |",
        "|---|---|---|---|",
    ]
    for s in result.settings():
        added = pm(result.values(s, "added"), 0)
        table.append(
            f"| {s} | {added} | {pm(result.values(s, 'accuracy'))} | "
            f"{pm(result.values(s, 'auroc'))} |"
        )
    info = [r["ce_validity"] for r in result.rows if r["ce_validity"]]
    if info:
        table += ["", "Validity of the generated CEs (mean over seeds):", ""]
        for kind in info[0]:
            weak_v = mean_std([i[kind]["validity_weak"] for i in info])[0]
            strong_v = mean_std([i[kind]["validity_strong"] for i in info])[0]
            table.append(
                f"- {kind}: {weak_v:.3f} under the weak classifier, {strong_v:.3f} under the "
                "100 % one."
            )
    table += ["", f"![accuracy vs added CEs]({figure.name})"]
    oracle = " Oracle-agreed rows keep only CEs the 100 % classifier puts in the target."
    return write_page(
        page,
        "Model improvement with counterfactuals",
        command,
        f"`{cfg.data}`; training pool of {result.pool_size} images, {result.test_size} "
        "held-out test images (stratified, seed 0). The weak classifier sees a stratified "
        f"{cfg.weak_fraction:.0%} of the pool (about {weak} images, drawn per seed).",
        result.seconds,
        [
            f"Seeds: {', '.join(map(str, cfg.seeds))} (weak set, classifiers, flow, CE choice); "
            f"the VAE is fitted once on the pool with seed {cfg.seeds[0]}.",
            f"CEs: LeapFactual on the weak classifier, blending {asdict(cfg.blend)}, injection "
            f"{asdict(cfg.inject)}; each labelled with its target. A fraction f adds "
            f"round(f × {result.num_classes - 1} × |weak set|) CEs (the share of all CEs of "
            "the full protocol); only as many weak-set images as the largest fraction needs "
            "are explained." + (oracle if cfg.oracle_filter else ""),
            "Retraining: same architecture, epochs and initial seed as the weak classifier.",
            f"Models: {json.dumps(model_settings(cfg.models))}",
        ],
        [(None, table), ("Where the paper's claim holds here", verdicts(result))],
    )


def verdicts(result: ImproveResult) -> list[str]:
    """Sentences generated from the numbers: reliable vs plain CEs, and vs the baselines."""
    base20 = result.mean(WEAK, "accuracy")
    base100 = result.mean(STRONG, "accuracy")
    out = []
    for f in sorted({r["fraction"] for r in result.rows if r["fraction"] > 0}):
        ce, rel = f"CE {f:.0%}", f"reliable CE {f:.0%}"
        if ce not in result.settings() or rel not in result.settings():
            continue
        a, b = result.mean(ce, "accuracy"), result.mean(rel, "accuracy")
        ua, ub = result.mean(ce, "auroc"), result.mean(rel, "auroc")
        wins = sum(
            r > c
            for r, c in zip(
                result.values(rel, "accuracy"), result.values(ce, "accuracy"), strict=True
            )
        )
        verdict = "holds" if b > a else "does not hold"
        out.append(
            f"- {f:.0%} added{' (the paper setting)' if abs(f - 0.1) < 1e-9 else ''}: the claim "
            f"{verdict}: reliable CEs give test accuracy {b:.3f} against {a:.3f} for plain CEs "
            f"(higher in {wins} of {len(result.values(rel, 'accuracy'))} seeds; AUROC {ub:.3f} "
            f"vs {ua:.3f}). Against the weak baseline ({base20:.3f}) reliable CEs change accuracy "
            f"by {b - base20:+.3f}, plain CEs by {a - base20:+.3f}; the strong (100 %) "
            f"baseline reaches {base100:.3f}."
        )
    return out or ["- No fraction above 0 was run: nothing to compare."]


def plot(result: ImproveResult, path: Path) -> Path:
    """Test accuracy vs fraction of added CEs, per kind (± std), with the baselines."""
    from leapfactual.report import figure

    fig = figure(figsize=(6.0, 4.0))
    ax = fig.subplots()
    kinds = list(dict.fromkeys(r["kind"] for r in result.rows if r["kind"] != "baseline"))
    for kind in kinds:
        fr = sorted({r["fraction"] for r in result.rows if r["kind"] == kind})
        stats = [
            mean_std(
                [r["accuracy"] for r in result.rows if r["kind"] == kind and r["fraction"] == f]
            )
            for f in fr
        ]
        ax.errorbar(
            [100 * f for f in fr], [s[0] for s in stats], [s[1] for s in stats], marker="o",
            capsize=3, label=kind,
        )  # fmt: skip
    for name, style in ((WEAK, ":"), (STRONG, "--")):
        ax.axhline(result.mean(name, "accuracy"), color="grey", linestyle=style, label=name)
    ax.set_xlabel("CEs added (% of all CEs of the weak set)")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"Retraining a weak classifier on {result.config.data}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


__all__ = [
    "ImproveConfig",
    "ImproveResult",
    "default_data",
    "load_splits",
    "run_improvement",
    "write_improvement_page",
]
