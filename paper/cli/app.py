"""``python -m paper``: the paper's experiments and benchmarks, one command each.

Built like the library's own command line (one-line errors, exit code 2, ``--debug``), on
its public names only.
"""

from __future__ import annotations

from typing import Annotated

import typer

from leapfactual.cli import run_app, state
from paper.cli.bench import bench
from paper.cli.divergence import divergence
from paper.cli.improve import improve
from paper.cli.own_model import own_model
from paper.cli.regression import regression
from paper.cli.shortcuts import shortcuts
from paper.cli.tables import tables
from paper.cli.toy import toy
from paper.cli.trust import trust

app = typer.Typer(
    name="paper",
    help="The LeapFactual paper's experiments, reproduced with leapfactual (results pages).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
) -> None:
    state["debug"] = debug


for command in (bench, toy, divergence, improve, own_model, shortcuts, regression, trust, tables):
    app.command()(command)


def main() -> None:
    """Run the app with the library's one-line errors (exit code 2)."""
    run_app(app)
