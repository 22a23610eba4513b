"""The ``bench`` command: every method on the same digits, one table and a results page.

Two tasks: ``morphomnist`` (the paper's table: digits toward another digit) and ``thickness``
(thin vs thick digits, scored against their true counterfactuals).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from leapfactual.pipeline import FitConfig

TASKS = ("morphomnist", "thickness")


def bench(
    task: Annotated[
        str,
        typer.Option(
            help="morphomnist: the paper's Morpho-MNIST table; thickness: thin vs thick digits "
            "scored against true counterfactuals."
        ),
    ] = "morphomnist",
    data: Annotated[
        str,
        typer.Option(
            help="Dataset: mnist5k, or idx:DIR with MNIST / Morpho-MNIST files (for the "
            "thickness task: the digits it intervenes on)."
        ),
    ] = "mnist5k",
    run: Annotated[
        Path | None,
        typer.Option(help="Run directory to fit or reuse (default: runs/bench-TASK-DATA)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Stem of the results: STEM.md (page), STEM.csv, STEM.html "
            "(default: runs/bench/TASK)."
        ),
    ] = None,
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
    from leapfactual.experiments.morphomnist import MorphoBenchConfig

    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    config = MorphoBenchConfig(
        n=n,
        seed=seed,
        methods=tuple(m.strip() for m in methods.split(",") if m.strip()),
        opt_steps=opt_steps,
    )
    name = data.replace(":", "-").replace("/", "_")
    default_run = f"bench-{name}" if task == "morphomnist" else f"bench-{task}-{name}"
    run_dir = run or Path("runs") / default_run
    stem = out or Path("runs/bench") / task
    command = "leapfactual " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    if task == "thickness":
        from leapfactual.experiments.thickness import (
            run_thickness_bench,
            thickness_fit_config,
            write_results_page,
        )

        result = run_thickness_bench(run_dir, thickness_fit_config(data, seed=seed), config, True)
        table, caption = result.table, "Ground truth: thin vs thick digits"
        page = write_results_page(result, stem.with_suffix(".md"), command, config)
    else:
        from leapfactual.experiments.morphomnist import run_morpho_bench
        from leapfactual.experiments.morphomnist import write_results_page as write_page

        fit = FitConfig(data=data, seed=seed)
        morpho = run_morpho_bench(run_dir, fit, config, progress=True)
        table, caption = morpho.table, "Morpho-MNIST benchmark"
        page = write_page(morpho, stem.with_suffix(".md"), command, fit, config)
    paths = table.write(
        stem, caption, f"Produced by `{command}`; see {page.name}.", formats=("csv", "html")
    )
    typer.echo(table.to_markdown())
    typer.echo(f"page: {page}\ntable: {', '.join(str(p) for p in paths)}")
