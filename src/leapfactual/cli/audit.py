"""The ``audit`` command: which changes of its counterfactuals a run's classifier needs."""

import shlex
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

from leapfactual.audit import AUDIT_LIMIT
from leapfactual.cli.common import Device, ExtraPaths, Limit, Seed, refuse_extra_paths

REGIONS: tuple[Literal["components", "grid"], ...] = ("components", "grid")


def audit(
    run: Annotated[Path, typer.Argument(help="Run directory made by `leapfactual fit`.")],
    out: Annotated[
        Path,
        typer.Option(
            help="Output directory: explanation/, necessity, summary.json, audit.md, "
            "audit.html, necessity.png. Running again skips the parts already there."
        ),
    ],
    images: Annotated[
        list[str] | None,
        typer.Option(
            help="'test' or 'train' (the run's split), or image files, folders or a quoted "
            "glob pattern; repeat for several [default: test]."
        ),
    ] = None,
    limit: Limit = AUDIT_LIMIT,
    per_class: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Images of each class (the run's split or a class-folder tree) instead of "
            "--limit. Without it, --limit images are taken one class after another [default: "
            "none].",
        ),
    ] = None,
    seed: Seed = 0,
    regions: Annotated[
        str, typer.Option(help="How a change is cut: 'components' (connected) or 'grid'.")
    ] = "components",
    grid: Annotated[
        int, typer.Option(min=1, help="Cells per side of the summary grid (and of 'grid').")
    ] = 4,
    force: Annotated[bool, typer.Option(help="Start over in an existing output.")] = False,
    device: Device = None,
    extra: ExtraPaths = None,
) -> None:
    """Explain a sample toward every other class and audit which changes the classifier
    needs (necessity); write global summaries and an audit page (docs/method.md §10)."""
    refuse_extra_paths(extra)  # before any work
    mode = next((known for known in REGIONS if known == regions), None)
    if mode is None:
        raise ValueError(f"unknown regions {regions!r}; choose 'components' or 'grid'")
    from leapfactual.audit import CONCENTRATED, audit_run, verdict_lines

    spec: str | list[str] = images[0] if images and len(images) == 1 else (images or "test")
    result = audit_run(
        run,
        out,
        images=spec,
        limit=limit,
        per_class=per_class,
        seed=seed,
        regions=mode,
        grid=grid,
        force=force,
        device=device,
        command="leapfactual " + shlex.join(sys.argv[1:]),
    )
    if result.skipped:
        typer.echo(f"already done, reused: {', '.join(result.skipped)}", err=True)
    shown = [f for f in result.findings if f.share >= CONCENTRATED]
    for f in sorted(shown, key=lambda f: not f.outside):
        kind = "shortcut candidate" if f.outside else "concentrated"
        typer.echo(
            f"{kind}: {f.direction} {f.name}, most-needed change: {f.label} in {f.share:.0%} "
            f"of {f.ces} CEs"
        )
    for r in result.reliance:
        typer.echo(
            f"reliance on {r.finding.phrase}: {r.values['model']:.0%} of {r.counted['model']} "
            f"test images of other classes move to {r.finding.name} with it copied in"
            + ("" if r.finding.toward else " (reversed: what its CEs took away, put on)")
        )
    for r in result.kept:
        typer.echo(
            f"reliance on {r.finding.phrase} of the audit before the "
            f"repair (same changes, same images): {r.values['model']:.0%} of "
            f"{r.counted['model']}"
        )
    if not shown:
        typer.echo("no class needs a change in one place in most of its CEs")
    typer.echo(verdict_lines(result.verdict)[0])
    typer.echo(f"page: {result.page}")
