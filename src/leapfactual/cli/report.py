"""The ``report`` command: the HTML page of a saved explanation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from leapfactual.cli.common import write_report

RANGE_SLACK = 1e-4


def check_images(exp: Any) -> None:
    """Raise a specific ``ValueError`` unless the explanation's images can be drawn: float
    ``[B, C, H, W]`` with 1 (grey) or 3 (RGB) channels, finite, in [0, 1]."""
    for name in ("x", "x_cf", "x_reliable"):
        images = getattr(exp, name)
        if images is None:
            continue
        if images.dim() != 4 or images.shape[1] not in (1, 3):
            raise ValueError(
                f"the explanation's {name} has shape {tuple(images.shape)}; a report draws "
                "images [B, C, H, W] with C = 1 (grey) or 3 (RGB). Explain images of that "
                "shape, or reshape them before saving."
            )
        if not images.is_floating_point():
            raise ValueError(
                f"the explanation's {name} has dtype {images.dtype}; a report draws float "
                "images in [0, 1]. Explain x.float() / 255 instead of uint8 images."
            )
        if not bool(images.isfinite().all()):
            raise ValueError(
                f"the explanation's {name} contains NaN or Inf values; it cannot be drawn. "
                "Re-create the explanation from finite inputs."
            )
        low, high = float(images.min()), float(images.max())
        if low < -RANGE_SLACK or high > 1 + RANGE_SLACK:
            raise ValueError(
                f"the explanation's {name} has values in [{low:.4g}, {high:.4g}]; a report "
                "draws images in [0, 1]. Map them to [0, 1] (e.g. (x + 1) / 2 for [-1, 1] "
                "images) before saving the explanation."
            )


def report(
    explanation: Annotated[
        Path, typer.Argument(help="Directory written by `leapfactual explain`.")
    ],
    out: Annotated[Path | None, typer.Option(help="HTML file (default: DIR/report.html).")] = None,
    run: Annotated[Path | None, typer.Option(help="Run directory, for class names.")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing --out file.")] = False,
) -> None:
    """Write the HTML report of a saved explanation.

    The default page (DIR/report.html) belongs to the explanation and is always rewritten; an
    existing --out file elsewhere is kept unless --force is given.
    """
    from leapfactual.explain import Explanation
    from leapfactual.pipeline import load_run

    if out is not None and out.is_dir():
        raise ValueError(f"--out {out} is a directory; give the path of an HTML file")
    if out is not None and out.exists() and not force:
        raise ValueError(f"{out} already exists; choose another --out or add --force to replace it")
    exp = Explanation.load(explanation)
    check_images(exp)
    names = (
        load_run(run).dataset.class_names if run else [str(k) for k in range(exp.probs.shape[1])]
    )
    page = write_report(exp, names, explanation, f"leapfactual report {explanation}", out)
    typer.echo(f"report: {page}")
