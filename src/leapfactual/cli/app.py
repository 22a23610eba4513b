"""Entry point of the ``leapfactual`` command line.

Bad input ends with a one-line message and exit code 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from leapfactual.cli.audit import audit
from leapfactual.cli.bench import bench
from leapfactual.cli.demo import demo
from leapfactual.cli.divergence import divergence
from leapfactual.cli.explain import explain
from leapfactual.cli.fit import fit
from leapfactual.cli.improve import improve
from leapfactual.cli.own_model import own_model
from leapfactual.cli.repair import repair
from leapfactual.cli.report import report
from leapfactual.cli.shortcuts import shortcuts
from leapfactual.cli.toy import toy
from leapfactual.io import CheckpointError

app = typer.Typer(
    name="leapfactual",
    help="Visual counterfactual explanations for image classifiers (LeapFactual, CE-CFM).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
USER_ERRORS = (
    ValueError,
    CheckpointError,
    FileNotFoundError,
    FileExistsError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
)
"""What bad input raises: reported as one line, not a traceback."""
state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        from leapfactual import __version__

        typer.echo(f"leapfactual {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    state["debug"] = debug


for command in (
    demo,
    fit,
    explain,
    report,
    audit,
    repair,
    bench,
    toy,
    divergence,
    improve,
    own_model,
    shortcuts,
):
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
        typer.echo(f"error: {one_line(err)}", err=True)
        sys.exit(2)
    except ImportError as err:
        if state["debug"] or "pip install" not in str(err):
            raise  # a broken installation, not bad input: keep the traceback
        typer.echo(f"error: {one_line(err)}", err=True)
        sys.exit(2)


def one_line(err: BaseException) -> str:
    """The message of ``err`` on one line (a model's multi-line error text is joined)."""
    text = " ".join(str(err).split())
    if isinstance(err, OSError) and err.filename is not None and err.strerror:
        text = f"{err.filename}: {err.strerror}"
    return text or type(err).__name__
