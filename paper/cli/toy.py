"""The ``toy`` command: the paper's 2-D quadrant figure."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leapfactual.cli import Device, Seed


def toy(
    out: Annotated[Path, typer.Option(help="Directory for toy.png.")] = Path("runs/toy"),
    epochs: Annotated[int, typer.Option(min=1, help="Flow training epochs over the points.")] = 150,
    seed: Seed = 0,
    device: Device = None,
) -> None:
    """Train the 2-D quadrant flow and draw the paper's five-panel toy figure."""
    from paper.experiments.toy import ToyConfig, run_toy

    result = run_toy(out, ToyConfig(epochs=epochs, seed=seed), progress=True, device=device)
    exp = result.explanation
    typer.echo(
        f"CE validity {exp.valid.float().mean():.2f}, reliable CE validity "
        f"{exp.valid_reliable.float().mean():.2f} (start points -> quadrant 3)"  # type: ignore[union-attr]
    )
    typer.echo(f"figure: {result.figure}")
