"""The ``demo`` command: real MNIST digits, one report."""

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from leapfactual.cli.common import Device, Limit, Seed, settings
from leapfactual.pipeline import FitSettings

_D = FitSettings()


def demo(
    out: Annotated[
        Path,
        typer.Option(
            help="Directory for report.html, grid.png, metrics.json and the cached run (out/run)."
        ),
    ] = Path("runs/demo"),
    limit: Limit = 500,
    seed: Seed = 0,
    vae_epochs: Annotated[int, typer.Option(min=1, help="VAE training epochs.")] = _D.vae.epochs,
    classifier_epochs: Annotated[
        int, typer.Option(min=1, help="Classifier epochs.")
    ] = _D.classifier.epochs,
    flow_epochs: Annotated[int, typer.Option(min=1, help="Flow training epochs.")] = _D.flow.epochs,
    device: Device = None,
) -> None:
    """Explain real MNIST digits (mnist5k) and write an HTML report (trains once, then reuses).

    OUT is a cache by design: OUT/run is fitted once and reused (a run fitted with other
    settings is refused), and report.html, grid.png and metrics.json are rewritten each time.
    """
    flags = {
        "seed": seed,
        "vae.epochs": vae_epochs,
        "classifier.epochs": classifier_epochs,
        "flow.epochs": flow_epochs,
    }
    fit = settings(FitSettings, None, flags, None)
    from leapfactual.report import DemoConfig, run_demo, write_demo_report

    demo = DemoConfig(limit=limit, seed=seed)
    result = run_demo(out / "run", fit, demo, progress=True, device=device)
    files = write_demo_report(result, out, "leapfactual " + shlex.join(sys.argv[1:]))
    m = result.metrics
    typer.echo(
        f"{m['held_out_explained']} held-out digits: CE validity {m['ce_validity']:.3f}, reliable "
        f"CE validity {m.get('ce_validity_reliable', float('nan')):.3f}, "
        f"{m['ce_seconds_per_ce'] * 1000:.1f} ms per CE; total {m['total_seconds']:.0f} s"
    )
    typer.echo(f"grid:    {files.grid}\nmetrics: {files.metrics}")
    typer.echo(f"report:  {files.report.resolve()}")
