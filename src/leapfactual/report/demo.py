"""The demo: real MNIST digits turned into other digits, with a report.

``run_demo`` fits (or reuses) a run on ``mnist5k``, explains held-out digits toward a random
other class and one digit of each class toward every other class (for the grid);
``write_demo_report`` writes ``report.html``, ``grid.png`` and ``metrics.json``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from leapfactual.explain import Explanation, all_other_targets, random_other_targets
from leapfactual.io import write_json
from leapfactual.pipeline import FitSettings, Run, fit_run
from leapfactual.report.build import build_report, headline
from leapfactual.report.grid import save_grid_figure, source_target_grid
from leapfactual.report.html import write_report
from leapfactual.report.pages import machine


@dataclass(frozen=True)
class DemoConfig:
    """How much to explain (``limit``: held-out digits, 0: all; ``n_report``: shown in the
    report); model sizes live in :class:`FitSettings`."""

    limit: int = 500
    n_report: int = 12
    seed: int = 0


@dataclass
class DemoResult:
    run: Run
    explanation: Explanation
    grid: Explanation  # one held-out digit of each class toward every other class
    grid_labels: Tensor  # the true label of each grid row's digit
    metrics: dict[str, Any]
    config: DemoConfig


@dataclass
class DemoFiles:
    report: Path
    grid: Path
    metrics: Path


def one_per_class(labels: Tensor, num_classes: int) -> Tensor:
    """Index of the first sample of every class present."""
    return torch.stack(
        [(labels == k).nonzero()[0, 0] for k in range(num_classes) if (labels == k).any()]
    )


def run_demo(
    run_dir: str | Path = "runs/demo/run",
    fit: FitSettings = FitSettings(),
    demo: DemoConfig = DemoConfig(),
    progress: bool = False,
    device: str | torch.device | None = None,
) -> DemoResult:
    """Fit or reuse the run in ``run_dir`` on ``device`` (default: this rank's GPU if any,
    else the CPU) and explain; writes nothing but the run (see :func:`write_demo_report`)."""
    start = time.perf_counter()
    run = fit_run(run_dir, fit, progress=progress, device=device)
    test = run.test
    k = test.num_classes
    n = len(test) if demo.limit == 0 else min(demo.limit, len(test))
    explainer = run.explainer(trajectory="latents", progress=progress)
    x, labels = test.images[:n], test.labels[:n]
    exp = explainer.explain(x, random_other_targets(labels, k, demo.seed))
    sources = one_per_class(test.labels, k)
    rows, targets = all_other_targets(test.labels[sources], k)
    grid = run.explainer(progress=False).explain(test.images[sources][rows], targets)
    metrics = {
        "data": fit.data,
        "held_out_explained": n,
        **{f"ce_{key}": value for key, value in headline(exp).items()},
        **run.summary,
        "total_seconds": time.perf_counter() - start,
        "machine": machine(),
        "fit_config": asdict(fit),
        "demo_config": asdict(demo),
    }
    return DemoResult(run, exp, grid, test.labels[sources], metrics, demo)


def write_demo_report(result: DemoResult, out_dir: str | Path, command: str) -> DemoFiles:
    """Write ``report.html``, ``grid.png`` and ``metrics.json`` in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    run, test, m = result.run, result.run.test, result.metrics
    names = test.class_names
    labels, said = result.grid_labels.tolist(), result.grid.source[:: test.num_classes - 1].tolist()
    grid_png = save_grid_figure(
        source_target_grid(result.grid, test.num_classes, result.grid_labels),
        names,
        out / "grid.png",
        title="Held-out digits (in the column of their true label) and their counterfactuals "
        "toward every other class",
        row_labels=[
            str(names[t]) + ("" if p == t else f"\n(model: {names[p]})")
            for t, p in zip(labels, said, strict=True)
        ],
        ylabel="input (its true label; red: the model reads another class)",
        outlined=[(r, t) for r, (t, p) in enumerate(zip(labels, said, strict=True)) if p != t],
    )
    metrics_path = out / "metrics.json"
    write_json(metrics_path, m, indent=2)
    summary = {
        "data": f"{m['data']}: {len(run.train)} training / {len(test)} held-out images",
        "classifier test accuracy": m.get("classifier_test_accuracy"),
        "VAE test reconstruction PSNR (dB)": m.get("vae_test_psnr"),
        "classifier accuracy on VAE reconstructions": m.get(
            "classifier_accuracy_on_reconstructions"
        ),
        "targets": "a random class other than the digit's label (seeded)",
    }
    report = build_report(
        result.explanation,
        test.class_names,
        title="LeapFactual on real MNIST digits",
        subtitle=f"{m['held_out_explained']} held-out digits explained toward another class; "
        f"run {run.directory}",
        run_summary=summary,
        grid=result.grid,
        grid_labels=result.grid_labels,
        notes=[f"Produced by `{command}` in {m['total_seconds']:.0f} s on {m['machine']}."],
        samples=result.config.n_report,
        seed=result.config.seed,
        run=run,
    )
    page = write_report(report, out / "report.html")
    return DemoFiles(page, grid_png, metrics_path)
