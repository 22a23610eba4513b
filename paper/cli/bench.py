"""The ``bench`` command: every method on the same digits, one table and a results page.

Two tasks: ``morphomnist`` (the paper's table: digits toward another digit) and ``thickness``
(thin vs thick digits, scored against their true counterfactuals).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leapfactual.cli import Device, Limit, Set
from leapfactual.explain import registered_methods
from leapfactual.pipeline import FitSettings, override, parse_assignments
from paper.cli.common import command_line, names, parse_seeds

TASKS = ("morphomnist", "thickness")
TABLE = "opt,cgm,leapfactual,latent_attack,reflection,pixel_attack"


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
            "(default: runs/bench/TASK; the committed pages: --out docs/results/TASK)."
        ),
    ] = None,
    limit: Limit = 1000,
    methods: Annotated[
        str, typer.Option(help=f"Comma-separated, out of: {', '.join(registered_methods())}.")
    ] = TABLE,
    reliable: Annotated[
        str,
        typer.Option(
            help="Comma-separated methods whose reliable variant gets a column too, when they "
            "are run ('' for none)."
        ),
    ] = "leapfactual",
    opt_steps: Annotated[int, typer.Option(min=1, help="Opt-based gradient steps.")] = 1000,
    seeds: Annotated[
        str,
        typer.Option(
            help="Comma-separated seeds, each a full repeat (models fitted and targets drawn "
            "with it, run in RUN/seed-S); every cell becomes the mean and 95 % interval "
            "over them."
        ),
    ] = "0",
    targets: Annotated[
        str,
        typer.Option(
            help="How each digit's target is drawn: other (a class other than its label) or "
            "uniform (any class, its own included, as the reference draws them)."
        ),
    ] = "other",
    ablations: Annotated[
        str,
        typer.Option(
            help="Comma-separated ablations of the morphomnist task, each a small table of "
            "the paper's three methods with one part of the set-up changed (codec, targets, "
            "flow); '' for none."
        ),
    ] = "",
    ablation_limit: Annotated[
        int, typer.Option(min=4, help="Held-out digits each ablation explains per seed.")
    ] = 100,
    device: Device = None,
    sets: Set = None,
) -> None:
    """Run methods x metrics on held-out digits over seeds; write the table and a page."""
    from paper.experiments.morphomnist import MorphoBenchConfig

    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    if task == "thickness" and targets != "other":
        raise ValueError(
            "--targets applies to the morphomnist task; thickness CEs go to the other class"
        )
    from paper.experiments.morpho_ablations import pick_ablations

    chosen = pick_ablations(names(ablations))
    if chosen and task != "morphomnist":
        raise ValueError("--ablations applies to the morphomnist task; drop it for thickness")
    assignments = parse_assignments(sets or [])  # bad --set: refused before any work
    config = MorphoBenchConfig(
        limit=limit,
        methods=names(methods),
        reliable=names(reliable),
        opt_steps=opt_steps,
        seeds=parse_seeds(seeds),
        targets=targets,
    )
    name = data.replace(":", "-").replace("/", "_")
    default_run = f"bench-{name}" if task == "morphomnist" else f"bench-{task}-{name}"
    run_dir = run or Path("runs") / default_run
    stem = out or Path("runs/bench") / task
    command = command_line()
    if task == "thickness":
        from paper.experiments.thickness import (
            run_thickness_bench,
            thickness_fit_config,
            write_thickness_page,
        )

        fit = override(thickness_fit_config(data), assignments)
        result = run_thickness_bench(run_dir, fit, config, True, device=device)
        tables, caption = result.tables, "Ground truth: thin vs thick digits"
        page = write_thickness_page(result, stem.with_suffix(".md"), command, config)
    else:
        from paper.experiments.morpho_ablations import (
            ablation_reasons,
            ablation_sections,
            run_ablations,
        )
        from paper.experiments.morphomnist import run_morpho_bench, write_morphomnist_page

        fit = override(FitSettings(data=data), assignments)
        morpho = run_morpho_bench(run_dir, fit, config, progress=True, device=device)
        lines: list[str] = []
        reasons: list[str] = []
        if chosen:
            done = run_ablations(run_dir, fit, config, chosen, ablation_limit, True, device)
            lines, reasons = ablation_sections(done), [ablation_reasons(done)]
            morpho.seconds += done.seconds
        tables, caption = morpho.tables, "Morpho-MNIST benchmark"
        page = write_morphomnist_page(
            morpho, stem.with_suffix(".md"), command, fit, config, lines, reasons
        )
    paths = tables.write(stem, caption, f"Produced by `{command}`; see {page.name}.")
    typer.echo(tables.summary().to_markdown())
    typer.echo(f"page: {page}\ntable: {', '.join(str(p) for p in paths)}")
