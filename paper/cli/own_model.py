"""The ``own-model`` command: the own-model path measured at several image sizes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from leapfactual.cli import Device, Limit, Seed
from paper.cli.common import command_line
from paper.experiments.own_model import OwnModelConfig

_D = OwnModelConfig()


def own_model(
    out: Annotated[
        Path,
        typer.Option(
            help="Stem of the results: STEM.md and STEM.png "
            "(the committed page: --out docs/results/own-model)."
        ),
    ] = Path("runs/own-model/own-model"),
    work: Annotated[Path, typer.Option(help="Where the images, classifiers and runs go.")] = Path(
        "runs/own-model/work"
    ),
    sizes: Annotated[str, typer.Option(help="Comma-separated image sides.")] = ",".join(
        map(str, _D.sizes)
    ),
    limit: Limit = _D.limit,
    vae_epochs: Annotated[int, typer.Option(min=1, help="VAE epochs.")] = _D.vae_epochs,
    vae_agreement: Annotated[
        float, typer.Option(min=0.0, help="Weight of the VAE's classifier-agreement term.")
    ] = _D.vae_agreement,
    flow_epochs: Annotated[int, typer.Option(min=1, help="Flow epochs.")] = _D.flow.epochs,
    seed: Seed = _D.seed,
    device: Device = None,
) -> None:
    """Train a classifier as a user would, export it, explain it with fit + explain; measure."""
    from paper.experiments.own_model import run_own_model, table_rows, write_own_model_page

    try:
        side = tuple(int(s) for s in sizes.split(",") if s.strip())
    except ValueError:
        raise ValueError(f"--sizes must be comma-separated integers, got {sizes!r}") from None
    flow = replace(_D.flow, epochs=flow_epochs, lr_milestones=(flow_epochs * 3 // 4,))
    cfg = OwnModelConfig(
        sizes=side,
        limit=limit,
        vae_epochs=vae_epochs,
        vae_agreement=vae_agreement,
        flow=flow,
        seed=seed,
    )
    result = run_own_model(work, cfg, device, progress=True)
    page = write_own_model_page(result, out, command_line())
    for row in table_rows(result):
        typer.echo(
            ", ".join(f"{k}: {v:.3f}" if not isinstance(v, str) else v for k, v in row.items())
        )
    typer.echo(f"page: {page}")
