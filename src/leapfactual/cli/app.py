"""Entry point of the ``leapfactual`` command line.

Bad input ends with a one-line message and exit code 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import errno
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
from leapfactual.cli.regression import regression
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
USER_ERRORS = (ValueError, CheckpointError, OSError, MemoryError)
"""What bad input and the machine raise (a missing file, a full disk, memory running out):
reported as one line, not a traceback."""
OUT_OF_MEMORY_FIX = (
    "out of memory; lower --batch-size (or explain in shards with --shard-size), or use a "
    "machine with more memory"
)
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
    regression,
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
    except RuntimeError as err:  # torch's allocators raise RuntimeError subclasses
        if state["debug"] or not out_of_memory(err):
            raise
        typer.echo(f"error: {OUT_OF_MEMORY_FIX} ({one_line(err)[:200]})", err=True)
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
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        text += " (the disk is full: free space, or write elsewhere)"
    if isinstance(err, MemoryError):
        text = f"{OUT_OF_MEMORY_FIX} ({text})" if text else OUT_OF_MEMORY_FIX
    return text or type(err).__name__


def out_of_memory(err: RuntimeError) -> bool:
    """Whether torch failed to allocate (a GPU's ``OutOfMemoryError``, or the CPU
    allocator's "can't allocate memory")."""
    return type(err).__name__ == "OutOfMemoryError" or "can't allocate memory" in str(err)
