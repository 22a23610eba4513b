"""The ``shortcuts`` command: audit and repair classifiers that learnt a known shortcut, as a
user runs ``leapfactual repair`` and ``audit``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leapfactual.audit import AUDIT_LIMIT
from leapfactual.cli import Limit
from paper.cli.common import command_line, parse_seeds


def shortcuts(
    out: Annotated[
        Path,
        typer.Option(
            help="Stem of the results: STEM.md (page), STEM.json (every row), STEM.parts/ "
            "(each seed's runs, repairs and audits, reused when run again); the committed "
            "page: --out docs/results/shortcuts."
        ),
    ] = Path("runs/shortcuts/shortcuts"),
    data: Annotated[str, typer.Option(help="Base digits (a `load_dataset` spec).")] = "mnist5k",
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds, one repetition each.")] = (
        "0,1,2"
    ),
    limit: Limit = AUDIT_LIMIT,
    rounds: Annotated[
        int | None, typer.Option(min=1, help="CFKD rounds [default: repair's].")
    ] = None,
    per_round: Annotated[
        int | None,
        typer.Option(min=1, help="Training images explained per CFKD round [default: repair's]."),
    ] = None,
) -> None:
    """Shortcut benchmark: per seed, a run on digits with a corner patch on one class, the
    repair with the default teacher (refused?) and with a clean rule at default settings, the
    repaired run audited again; and a tint-reliant and a tint-blind run audited (--limit: test
    images per audit, the audit's own default)."""
    from dataclasses import replace

    from leapfactual.audit import CFKDSettings
    from paper.experiments.shortcuts import (
        ShortcutsConfig,
        run_shortcuts,
        targets,
        write_shortcuts_page,
    )

    base = CFKDSettings()
    cfkd = replace(base, rounds=rounds or base.rounds, per_round=per_round or base.per_round)
    cfg = ShortcutsConfig(base=data, seeds=parse_seeds(seeds), audit_limit=limit, cfkd=cfkd)
    result = run_shortcuts(cfg, f"{out}.parts", log=lambda m: typer.echo(m, err=True))
    page = write_shortcuts_page(result, out, command_line())
    for target, measured, met in targets(result):
        typer.echo(f"{'met    ' if met else 'NOT met'}  {target}: {measured}")
    typer.echo(f"page: {page}  ({result.seconds / 60:.1f} min)")
