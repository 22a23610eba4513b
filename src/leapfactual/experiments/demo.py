"""The demo: real MNIST digits turned into other digits, with a report.

Fits (or reuses) a run on ``mnist5k``, explains held-out digits toward a random other class,
explains one digit of each class toward every other class for the grid, and writes
``report.html``, ``grid.png`` and ``metrics.json``.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from leapfactual.explain import Explanation
from leapfactual.explain.targets import all_other_targets, random_other_targets
from leapfactual.io import atomic_write_text
from leapfactual.pipeline import FitConfig, Run, fit_run
from leapfactual.report import build_report, headline, save_grid_figure
from leapfactual.report.grid import source_target_grid
from leapfactual.report.html import write_report


@dataclass(frozen=True)
class DemoConfig:
    """How much to explain; model sizes live in :class:`FitConfig`."""

    n_explain: int = 500
    n_report: int = 12
    seed: int = 0


@dataclass
class DemoResult:
    run: Run
    explanation: Explanation
    metrics: dict[str, Any]
    report: Path
    grid: Path
    metrics_path: Path


def one_per_class(labels: Tensor, num_classes: int) -> Tensor:
    """Index of the first sample of every class present."""
    return torch.stack(
        [(labels == k).nonzero()[0, 0] for k in range(num_classes) if (labels == k).any()]
    )


def run_demo(
    out_dir: str | Path = "runs/demo",
    fit: FitConfig = FitConfig(),
    demo: DemoConfig = DemoConfig(),
    progress: bool = False,
) -> DemoResult:
    """Fit or reuse the run in ``out_dir/run``, explain, and write the report files."""
    out = Path(out_dir)
    start = time.perf_counter()
    run = fit_run(out / "run", fit, progress=progress)
    test = run.test
    k = test.num_classes
    n = min(demo.n_explain, len(test))
    explainer = run.explainer(trajectory="images", progress=progress)
    x, labels = test.images[:n], test.labels[:n]
    exp = explainer.explain(x, random_other_targets(labels, k, demo.seed))
    sources = one_per_class(test.labels, k)
    rows, targets = all_other_targets(test.labels[sources], k)
    grid_explainer = run.explainer(progress=False)
    grid_exp = grid_explainer.explain(test.images[sources][rows], targets)
    grid_png = save_grid_figure(
        source_target_grid(grid_exp, k),
        test.class_names,
        out / "grid.png",
        title="Held-out digits (own column) and their counterfactuals toward every other class",
    )
    metrics = {
        "data": fit.data,
        "held_out_explained": n,
        **{f"ce_{key}": value for key, value in headline(exp).items()},
        **(run.summary or {}),
        "total_seconds": time.perf_counter() - start,
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}",
        "fit_config": asdict(fit),
        "demo_config": asdict(demo),
    }
    metrics_path = out / "metrics.json"
    atomic_write_text(metrics_path, json.dumps(metrics, indent=2))
    summary = {
        "data": f"{fit.data}: {len(run.train)} training / {len(test)} held-out images",
        "classifier test accuracy": (run.summary or {}).get("classifier_test_accuracy"),
        "VAE test reconstruction MSE": (run.summary or {}).get("vae_test_mse"),
        "classifier accuracy on VAE reconstructions": (run.summary or {}).get(
            "classifier_accuracy_on_reconstructions"
        ),
        "targets": "a random class other than the digit's label (seeded)",
    }
    report = build_report(
        exp,
        test.class_names,
        title="LeapFactual on real MNIST digits",
        subtitle=f"{n} held-out digits explained toward another class; run {out / 'run'}",
        run_summary=summary,
        grid=grid_exp,
        notes=[
            f"Produced by `leapfactual demo --out {out}` in "
            f"{metrics['total_seconds']:.0f} s on {metrics['machine']}."
        ],
        max_samples=demo.n_report,
    )
    page = write_report(report, out / "report.html")
    return DemoResult(run, exp, metrics, page, grid_png, metrics_path)
