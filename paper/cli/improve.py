"""The ``improve`` command: retrain a weak classifier with its counterfactuals."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leapfactual.cli import Device
from paper.cli.common import command_line, parse_seeds


def improve(
    out: Annotated[
        Path,
        typer.Option(
            help="Stem of the results: STEM.md (page), STEM.png (plot), STEM.json (every row); "
            "the committed page: --out docs/results/improvement."
        ),
    ] = Path("runs/improve/improvement"),
    data: Annotated[
        str,
        typer.Option(
            help="Dataset spec; default fashion-mnist when installed, else mnist5k. "
            "galaxy10:FILE.h5 selects the paper's Galaxy10 configuration (GPU; all images)."
        ),
    ] = "",
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds, one repetition each.")] = (
        "0,1,2"
    ),
    n_train: Annotated[int, typer.Option(min=0, help="Training pool size (0 = all).")] = 2000,
    n_test: Annotated[int, typer.Option(min=0, help="Test images (0 = all).")] = 1000,
    fractions: Annotated[
        str, typer.Option(help="Comma-separated shares of all CEs to add (paper: 0.1).")
    ] = "0,0.1,0.3",
    oracle_filter: Annotated[
        bool, typer.Option(help="Also retrain on only the CEs the strong classifier agrees with.")
    ] = False,
    device: Device = None,
) -> None:
    """Model improvement: CEs and reliable CEs as training data (docs/method.md §6.3)."""
    from paper.experiments.improvement import (
        ImproveConfig,
        default_data,
        run_improvement,
        write_improvement_page,
    )

    try:
        shares = tuple(float(f) for f in fractions.split(",") if f.strip())
    except ValueError:
        raise ValueError(f"fractions must be comma-separated numbers, got {fractions!r}") from None
    options = dict(
        seeds=parse_seeds(seeds),
        n_train=n_train or None,
        n_test=n_test or None,
        fractions=shares,
        oracle_filter=oracle_filter,
    )
    spec = data or default_data()
    if spec.startswith("galaxy10:"):
        # the paper's protocol: every galaxy, 10 % test; pool and test sizes do not apply
        options.pop("n_train"), options.pop("n_test")
        cfg = ImproveConfig.galaxy10(spec.partition(":")[2], **options)
    else:
        cfg = ImproveConfig(data=spec, **options)  # type: ignore[arg-type]
    result = run_improvement(cfg, log=lambda m: typer.echo(m, err=True), device=device)
    page = write_improvement_page(result, out, command_line())
    for setting in result.settings():
        typer.echo(
            f"{setting:32s} accuracy {result.mean(setting, 'accuracy'):.3f}  "
            f"AUROC {result.mean(setting, 'auroc'):.3f}"
        )
    typer.echo(f"page: {page}  ({result.seconds / 60:.1f} min)")
