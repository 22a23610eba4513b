"""The ``trust`` command: does a run's verdict tell good runs from broken ones?"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leapfactual.cli import Device, Limit
from paper.cli.common import command_line


def trust(
    out: Annotated[
        Path,
        typer.Option(
            help="Stem of the results: STEM.md (the page); the committed page: --out "
            "docs/results/trust."
        ),
    ] = Path("runs/trust/trust"),
    runs: Annotated[
        Path, typer.Option(help="Where the grid's runs are fitted (reused when run again).")
    ] = Path("runs/trust/runs"),
    cases: Annotated[
        str,
        typer.Option(
            help="Comma-separated cases (empty: the grid: demo, demo-defaults, vae-1-epoch, "
            "small, chance, shapes-32, shapes-32-trained, shapes-32-conv; also: agreement, "
            "shapes-48-small-work, flow-2-epochs, shapes-32-agreement, small-defaults, "
            "blurry)."
        ),
    ] = "",
    limit: Limit = 100,
    seed: Annotated[
        int,
        typer.Option(
            min=0,
            help="Seed of every run, split and judge of the grid (the committed page: "
            "--seed 2; the verdict's thresholds were not set on it).",
        ),
    ] = 0,
    device: Device = None,
) -> None:
    """Weakened runs (short training, little data, the wrong codec, a classifier at chance,
    ...) next to the defaults: each run's verdict against an independent judge's validity
    of its CEs (--limit: held-out images explained per run)."""
    from paper.experiments.trust import (
        JUDGED,
        TrustConfig,
        case_by_name,
        run_trust,
        targets,
        write_trust_page,
    )

    names = tuple(c.strip() for c in cases.split(",") if c.strip())
    for name in names:
        case_by_name(name)  # an unknown case fails before any training
    cfg = TrustConfig(limit=limit, seed=seed, **({"cases": names} if names else {}))  # type: ignore[arg-type]
    result = run_trust(runs, cfg, device=device, say=lambda m: typer.echo(m, err=True))
    page = write_trust_page(result, out, command_line())
    for row in result.rows:
        level = row.verdict.level if row.verdict is not None else "unknown"
        typer.echo(
            f"{row.case.name:22s} {level:9s} validity {row.validity:.2f}  robust "
            f"{row.robust_validity:.2f}  judge {row.judge_validity:.2f}  judge (reliable CE) "
            f"{row.reliable_judge_validity:.2f}"
        )
    met = targets(result)
    for kind in JUDGED:
        m = met[kind]
        typer.echo(
            f"{kind}: trusted below the floor: {', '.join(m['trusted_below_floor']) or 'none'}; "
            f"good runs marked untrusted: {', '.join(m['good_untrusted']) or 'none'} of "
            f"{m['good']}"
        )
    typer.echo(f"demo: {met['demo']}")
    typer.echo(f"page: {page}  ({result.seconds / 60:.1f} min)")
