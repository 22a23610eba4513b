"""The ``shortcuts`` command: audit and repair classifiers that learnt a known nuisance."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leapfactual.cli import Device, Limit
from paper.cli.common import command_line, parse_seeds


def shortcuts(
    out: Annotated[
        Path,
        typer.Option(
            help="Stem of the results: STEM.md (page), STEM.png (necessity maps), STEM.json "
            "(every row), STEM.parts/ (finished variants, reused when run again); the "
            "committed page: --out docs/results/shortcuts."
        ),
    ] = Path("runs/shortcuts/shortcuts"),
    data: Annotated[str, typer.Option(help="Base digits (a `load_dataset` spec).")] = "mnist5k",
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds, one repetition each.")] = (
        "0,1,2"
    ),
    imbalances: Annotated[
        str,
        typer.Option(
            help="Comma-separated shares of the confounded class's training images kept, one "
            "variant each (1: balanced)."
        ),
    ] = "1,0.3",
    limit: Limit = 50,
    rounds: Annotated[int, typer.Option(min=1, help="CFKD rounds.")] = 3,
    per_round: Annotated[
        int, typer.Option(min=1, help="Training images explained per CFKD round.")
    ] = 300,
    n_base: Annotated[int, typer.Option(min=0, help="Base digits used (stratified; 0 = all).")] = 0,
    device: Device = None,
) -> None:
    """Shortcut benchmark: a nuisance on one class in training, decorrelated at test; the
    confounded model, CFKD with a rule and a model teacher, plain retraining and a ceiling,
    with the audit's verdict on each (--limit: test images audited per model)."""
    from dataclasses import replace

    from paper.experiments.shortcuts import (
        SETTINGS,
        ShortcutsConfig,
        run_shortcuts,
        write_shortcuts_page,
    )

    try:
        kept = tuple(float(v) for v in imbalances.split(",") if v.strip())
    except ValueError:
        raise ValueError(
            f"imbalances must be comma-separated numbers, got {imbalances!r}"
        ) from None
    base = ShortcutsConfig()
    cfg = ShortcutsConfig(
        data=data,
        seeds=parse_seeds(seeds),
        imbalances=kept,
        audit_limit=limit,
        n_base=n_base or None,
        cfkd=replace(base.cfkd, rounds=rounds, per_round=per_round),
    )
    result = run_shortcuts(
        cfg, log=lambda m: typer.echo(m, err=True), device=device, parts=f"{out}.parts"
    )
    page = write_shortcuts_page(result, out, command_line())
    for variant in result.variants():
        for setting in SETTINGS:
            typer.echo(
                f"{variant:18s} {setting:34s} worst class "
                f"{result.mean(variant, setting, 'worst_class'):.3f}  reliance "
                f"{result.mean(variant, setting, 'flip'):.3f}"
            )
    typer.echo(f"page: {page}  ({result.seconds / 60:.1f} min)")
