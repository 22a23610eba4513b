"""The ``report`` command: the HTML page of a saved explanation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leapfactual.cli.common import write_report


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
    names = load_run(run).class_names if run else [str(k) for k in range(exp.probs.shape[1])]
    page = write_report(exp, names, explanation, f"leapfactual report {explanation}", out)
    typer.echo(f"report: {page}")
