"""The ``divergence`` command: CEs of a weak classifier judged by a strong one."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer


def divergence(
    out: Annotated[Path, typer.Option(help="Directory for results.json.")] = Path(
        "runs/divergence"
    ),
    page: Annotated[
        Path, typer.Option(help="Results page (Markdown; the plot goes next to it).")
    ] = (Path("docs/results/divergence.md")),
    data: Annotated[str, typer.Option(help="Dataset spec (see `load_dataset`).")] = "mnist5k",
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds.")] = "0,1,2",
    n: Annotated[int, typer.Option(min=2, help="Held-out images explained per seed.")] = 100,
    methods: Annotated[
        str, typer.Option(help="Comma-separated: leapfactual,opt,cgm,attack,pixel,reflection.")
    ] = "leapfactual,opt,cgm,attack,pixel,reflection",
    weak_fraction: Annotated[
        float,
        typer.Option(min=0.01, max=1.0, help="Share of the training set the weak model sees."),
    ] = 0.2,
    opt_steps: Annotated[int, typer.Option(min=1, help="Opt-based steps (paper: 1000).")] = 200,
    attack_steps: Annotated[int, typer.Option(min=1, help="Most steps of the attacks.")] = 200,
    n_train: Annotated[
        int, typer.Option(min=0, help="Training images used (stratified; 0 = all).")
    ] = 2000,
) -> None:
    """Model-truth divergence: validity of every method's CEs under the model and the truth."""
    from leapfactual.experiments._shared import parse_seeds
    from leapfactual.experiments.divergence import DivergenceConfig, run_divergence

    cfg = DivergenceConfig(
        data=data,
        seeds=parse_seeds(seeds),
        weak_fraction=weak_fraction,
        n_explain=n,
        methods=tuple(m.strip() for m in methods.split(",") if m.strip()),
        opt_steps=opt_steps,
        attack_steps=attack_steps,
        n_train=n_train or None,
    )
    command = "leapfactual " + shlex.join(sys.argv[1:])
    result = run_divergence(cfg, out, page, command, log=lambda m: typer.echo(m, err=True))
    for column, stats in result.summary["table"].items():
        typer.echo(
            f"{column:24s} model {stats['validity_model'][0]:.3f}  truth "
            f"{stats['validity_truth'][0]:.3f}  gap {stats['gap'][0]:+.3f}"
        )
    typer.echo(f"page: {result.page}  ({result.seconds / 60:.1f} min)")
