"""The ``divergence`` command: CEs of a weak classifier judged by a strong one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leapfactual.cli import Device, Limit
from leapfactual.explain import registered_methods
from paper.cli.common import command_line, names, parse_seeds


def divergence(
    out: Annotated[
        Path,
        typer.Option(
            help="Stem of the results: STEM.md (page), STEM.png (plot), STEM.json (every row); "
            "the committed page: --out docs/results/divergence."
        ),
    ] = Path("runs/divergence/divergence"),
    data: Annotated[str, typer.Option(help="Dataset spec (see `load_dataset`).")] = "mnist5k",
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds, one repetition each.")] = (
        "0,1,2"
    ),
    limit: Limit = 100,
    methods: Annotated[
        str, typer.Option(help=f"Comma-separated, out of: {', '.join(registered_methods())}.")
    ] = "leapfactual,opt,cgm,latent_attack,pixel_attack,reflection",
    weak_fraction: Annotated[
        float,
        typer.Option(min=0.01, max=1.0, help="Share of the training set the weak model sees."),
    ] = 0.2,
    opt_steps: Annotated[int, typer.Option(min=1, help="Opt-based steps (paper: 1000).")] = 200,
    attack_steps: Annotated[int, typer.Option(min=1, help="Most steps of the attacks.")] = 200,
    n_train: Annotated[
        int, typer.Option(min=0, help="Training images used (stratified; 0 = all).")
    ] = 2000,
    device: Device = None,
) -> None:
    """Model-truth divergence: validity of every method's CEs under the model and the truth."""
    from paper.experiments.divergence import (
        DivergenceConfig,
        run_divergence,
        write_divergence_page,
    )

    cfg = DivergenceConfig(
        data=data,
        seeds=parse_seeds(seeds),
        weak_fraction=weak_fraction,
        limit=limit,
        methods=names(methods),
        opt_steps=opt_steps,
        attack_steps=attack_steps,
        n_train=n_train or None,
    )
    result = run_divergence(cfg, log=lambda m: typer.echo(m, err=True), device=device)
    page = write_divergence_page(result, out, command_line())
    for column, stats in result.summary["table"].items():
        typer.echo(
            f"{column:24s} model {stats['validity_model'][0]:.3f}  truth "
            f"{stats['validity_truth'][0]:.3f}  gap {stats['gap'][0]:+.3f}"
        )
    typer.echo(f"page: {page}  ({result.seconds / 60:.1f} min)")
