"""Fixtures shared by the library's tests (tests/) and the paper's (paper/tests/), each trained
once per session at tiny sizes (about a second each).

Tests run with one thread per process (``OMP_NUM_THREADS=1``, inherited by the command-line
processes that tests start): on a shared 2-core machine a second OpenMP thread mostly
spin-waits, which costs several times the CPU time of the work itself.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest
import torch

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


def tiny_fit_config(**top: object):
    """Run settings with tiny models and one to three epochs, however small the data
    (``top``: top-level settings)."""
    from leapfactual.pipeline import ClassifierSettings, FitSettings, FlowSettings, VAESettings

    return FitSettings(
        vae=VAESettings(latent_dim=8, width=8, epochs=1, min_steps=0),
        classifier=ClassifierSettings(width=8, epochs=2, min_steps=0),
        flow=FlowSettings(epochs=3, min_steps=0),
        oracle=ClassifierSettings(width=8, epochs=2, min_steps=0),
        cvae=VAESettings(kind="conv", latent_dim=8, width=8, epochs=1, min_steps=0),
        **top,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="session")
def tiny_config():
    return tiny_fit_config()


@pytest.fixture(scope="session")
def make_tiny_config():
    """:func:`tiny_fit_config`, for tests (conftest cannot be imported under importlib mode)."""
    return tiny_fit_config


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_config):
    """A run fitted on mnist5k with tiny models and one or two epochs (a few seconds)."""
    from leapfactual.pipeline import fit_run

    return fit_run(tmp_path_factory.mktemp("runs") / "tiny", tiny_config)


@dataclass
class CliResult:
    """What one command line did: its exit code and what it printed."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str


def run_cli(main: Callable[[], None], program: str, *args: str) -> CliResult:
    """``PROGRAM ARGS`` in this process, through the real entry point ``main`` (one-line
    errors, exit code 2), without paying a new process and a new import of torch. An
    exception that escapes ``main`` (``--debug``, a bug) is printed as the interpreter would,
    with exit code 1."""
    out, err = io.StringIO(), io.StringIO()
    code, argv = 0, sys.argv
    sys.argv = [program, *args]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
            except Exception:
                traceback.print_exc()
                code = 1
    finally:
        sys.argv = argv
    return CliResult(list(args), code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="session")
def run_command():
    """:func:`run_cli`: ``run_command(main, "prog", *args)`` -> :class:`CliResult`."""
    return run_cli
