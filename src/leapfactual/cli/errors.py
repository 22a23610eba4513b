"""How every ``leapfactual`` command line (and any other typer app built on the library, such
as the paper's) ends: bad input as one line on stderr and exit code 2; ``--debug`` shows the
traceback."""

from __future__ import annotations

import errno
import sys

import typer

from leapfactual._memory import OutOfMemory, out_of_memory
from leapfactual.cli.messages import show_library_messages

USER_ERRORS = (ValueError, OSError, MemoryError)
"""What bad input and the machine raise (a bad file: ``leapfactual.io.CheckpointError`` is a
``ValueError``; a missing file, a full disk, memory running out): reported as one line, not a
traceback."""
OUT_OF_MEMORY_FIX = (
    "out of memory; lower --batch-size (or explain in shards with --shard-size), or use a "
    "machine with more memory"
)
"""The advice for memory that ran out where no setting was named (an ``OutOfMemory`` names
the one that sized the work)."""
state = {"debug": False}
"""``--debug`` given: let exceptions through (set by an app's root callback)."""


def run_app(app: typer.Typer) -> None:
    """Run ``app``, showing the library's messages on stderr; turn user errors into one line
    on stderr and exit code 2.

    Usage errors (unknown options, out-of-range values) are reported by typer itself, also
    with exit code 2.
    """
    show_library_messages()
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
    if isinstance(err, MemoryError) and not isinstance(err, OutOfMemory):
        text = f"{OUT_OF_MEMORY_FIX} ({text})" if text else OUT_OF_MEMORY_FIX
    return text or type(err).__name__
