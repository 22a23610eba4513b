"""The ``bench`` command: the Morpho-MNIST table, every method on the same digits."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from leapfactual.pipeline import FitConfig


def bench(
    data: Annotated[
        str, typer.Option(help="Dataset: mnist5k, or idx:DIR with MNIST / Morpho-MNIST files.")
    ] = "mnist5k",
    run: Annotated[
        Path | None,
        typer.Option(help="Run directory to fit or reuse (default: runs/bench-DATA)."),
    ] = None,
    out: Annotated[
        Path, typer.Option(help="Stem of the results: STEM.md (page), STEM.csv, STEM.html.")
    ] = Path("runs/bench/morphomnist"),
    n: Annotated[int, typer.Option(min=4, help="Held-out digits to explain.")] = 1000,
    methods: Annotated[
        str,
        typer.Option(
            help="Comma-separated: opt, cgm, leapfactual, leapfactual-reliable, attack, "
            "reflection, pixel."
        ),
    ] = "opt,cgm,leapfactual,leapfactual-reliable,attack,reflection,pixel",
    opt_steps: Annotated[int, typer.Option(min=1, help="Opt-based gradient steps.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of split, training and targets.")] = 0,
) -> None:
    """Run methods x metrics on held-out digits; write the table and a results page."""
    from leapfactual.experiments.morphomnist import (
        MorphoBenchConfig,
        run_morpho_bench,
        write_results_page,
    )

    fit = FitConfig(data=data, seed=seed)
    config = MorphoBenchConfig(
        n=n,
        seed=seed,
        methods=tuple(m.strip() for m in methods.split(",") if m.strip()),
        opt_steps=opt_steps,
    )
    run_dir = run or Path("runs") / f"bench-{data.replace(':', '-').replace('/', '_')}"
    result = run_morpho_bench(run_dir, fit, config, progress=True)
    command = "leapfactual " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    paths = result.table.write(
        out,
        "Morpho-MNIST benchmark",
        f"Produced by `{command}` on {result.machine}.",
        formats=("csv", "html"),
    )
    page = write_results_page(result, out.with_suffix(".md"), command, fit, config)
    typer.echo(result.table.to_markdown())
    typer.echo(f"page: {page}\ntable: {', '.join(str(p) for p in paths)}")
