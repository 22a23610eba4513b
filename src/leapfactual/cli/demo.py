"""The ``demo`` command: real MNIST digits, one report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leapfactual.pipeline import FitConfig


def demo(
    out: Annotated[
        Path,
        typer.Option(
            help="Directory for report.html, grid.png, metrics.json and the cached run (out/run)."
        ),
    ] = Path("runs/demo"),
    n: Annotated[int, typer.Option(min=1, help="Held-out digits to explain.")] = 500,
    seed: Annotated[int, typer.Option(help="Seed of split, training and targets.")] = 0,
    vae_epochs: Annotated[
        int, typer.Option(min=1, help="VAE training epochs.")
    ] = FitConfig.vae_epochs,
    classifier_epochs: Annotated[
        int, typer.Option(min=1, help="Classifier epochs.")
    ] = FitConfig.classifier_epochs,
    flow_epochs: Annotated[
        int, typer.Option(min=1, help="Flow training epochs.")
    ] = FitConfig.flow_epochs,
) -> None:
    """Explain real MNIST digits (mnist5k) and write an HTML report (trains once, then reuses).

    OUT is a cache by design: OUT/run is fitted once and reused (a run fitted with other
    settings is refused), and report.html, grid.png and metrics.json are rewritten each time.
    """
    from leapfactual.experiments.demo import DemoConfig, run_demo

    fit = FitConfig(
        seed=seed,
        vae_epochs=vae_epochs,
        classifier_epochs=classifier_epochs,
        flow_epochs=flow_epochs,
    )
    result = run_demo(out, fit, DemoConfig(n_explain=n, seed=seed), progress=True)
    m = result.metrics
    typer.echo(
        f"{m['held_out_explained']} held-out digits: CE validity {m['ce_validity']:.3f}, reliable "
        f"CE validity {m.get('ce_validity_reliable', float('nan')):.3f}, "
        f"{m['ce_seconds_per_ce'] * 1000:.1f} ms per CE; total {m['total_seconds']:.0f} s"
    )
    typer.echo(f"grid:    {result.grid}\nmetrics: {result.metrics_path}")
    typer.echo(f"report:  {result.report.resolve()}")
