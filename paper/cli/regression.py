"""The ``regression`` command: explain a stroke-thickness regressor against the true CEs,
and several diverse CEs per input."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leapfactual.cli import Device, Limit, Seed
from paper.cli.common import command_line, names


def regression(
    out: Annotated[
        Path,
        typer.Option(
            help="Stem of the results: STEM.md (page), STEM.png and STEM-diverse.png "
            "(figures), STEM.csv (the table); the committed page: "
            "--out docs/results/regression."
        ),
    ] = Path("runs/regression/regression"),
    data: Annotated[
        str, typer.Option(help="Digits whose stroke thickness is set (a `load_dataset` spec).")
    ] = "mnist5k",
    run: Annotated[
        Path | None,
        typer.Option(help="Run directory to fit or reuse (default: runs/regression-DATA)."),
    ] = None,
    limit: Limit = 250,
    shift: Annotated[
        float, typer.Option(help="Each target lies this many px from the digit's thickness.")
    ] = 1.0,
    tolerance: Annotated[float, typer.Option(help="Valid when |f(x') - t| <= this (px).")] = 0.3,
    methods: Annotated[
        str, typer.Option(help="Comma-separated, out of: leapfactual, opt, latent_attack.")
    ] = "leapfactual,opt,latent_attack",
    opt_steps: Annotated[int, typer.Option(min=1, help="Opt-based gradient steps.")] = 1000,
    diverse: Annotated[
        int, typer.Option(min=1, help="CEs per input in the diversity study (1: none).")
    ] = 4,
    spreads: Annotated[
        str, typer.Option(help="Comma-separated noise spreads of the diversity study.")
    ] = "1,2,4",
    seed: Seed = 0,
    device: Device = None,
) -> None:
    """Ground-truth regression benchmark: a CNN regressor of stroke thickness, every method
    that takes regression targets, and LeapFactual's diverse CEs; writes a results page."""
    from paper.experiments.regression import (
        RegressionBenchConfig,
        regression_fit_config,
        run_regression_bench,
        write_regression_page,
    )

    chosen = names(methods)
    try:
        spread = tuple(float(v) for v in names(spreads))
    except ValueError:
        raise ValueError(f"spreads must be comma-separated numbers, got {spreads!r}") from None
    config = RegressionBenchConfig(
        limit=limit,
        shift=shift,
        tolerance=tolerance,
        methods=chosen,
        reliable=tuple(m for m in ("leapfactual", "latent_attack") if m in chosen),
        opt_steps=opt_steps,
        diverse=diverse,
        spreads=spread,
    )
    fit = regression_fit_config(data, seed=seed)
    run_dir = run or Path("runs") / f"regression-{data.replace(':', '-').replace('/', '_')}"
    result = run_regression_bench(run_dir, fit, config, True, device=device)
    command = command_line()
    page = write_regression_page(result, out.with_suffix(".md"), command, config)
    paths = result.table.write(
        out, "Regression ground truth", f"Produced by `{command}`; see {page.name}.", ("csv",)
    )
    typer.echo(result.table.to_markdown())
    if result.diversity is not None:
        typer.echo(result.diversity.to_markdown())
    typer.echo(f"page: {page}\ntable: {', '.join(str(p) for p in paths)}")
