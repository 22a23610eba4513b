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
) -> None:
    """Write the HTML report of a saved explanation."""
    from leapfactual.explain import Explanation
    from leapfactual.pipeline import load_run

    exp = Explanation.load(explanation)
    names = (
        load_run(run).dataset.class_names if run else [str(k) for k in range(exp.probs.shape[1])]
    )
    page = write_report(exp, names, explanation, f"leapfactual report {explanation}", out)
    typer.echo(f"report: {page}")
