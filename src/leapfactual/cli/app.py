"""Entry point of the ``leapfactual`` command line.

Bad input ends with a one-line message and exit code 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from leapfactual.cli.demo import demo
from leapfactual.cli.explain import explain
from leapfactual.cli.fit import fit
from leapfactual.cli.report import report
from leapfactual.cli.toy import toy
from leapfactual.io import CheckpointError

app = typer.Typer(
    name="leapfactual",
    help="Visual counterfactual explanations for image classifiers (LeapFactual, CE-CFM).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
USER_ERRORS = (ValueError, CheckpointError, FileNotFoundError, PermissionError)
state = {"debug": False}


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
) -> None:
    state["debug"] = debug


for command in (demo, fit, explain, report, toy):
    app.command()(command)


def main() -> None:
    """Run the app; turn user errors into one line on stderr and exit code 2.

    Usage errors (unknown options, out-of-range values) are reported by typer itself, also
    with exit code 2.
    """
    try:
        app()
    except USER_ERRORS as err:
        if state["debug"]:
            raise
        typer.echo(f"error: {err}", err=True)
        sys.exit(2)
