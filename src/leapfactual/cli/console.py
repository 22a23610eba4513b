"""The console script: the typer app, or one line naming the ``cli`` extra without typer."""

from __future__ import annotations

import sys

from leapfactual._optional import require


def main() -> None:
    """Run :func:`leapfactual.cli.app.main`; without typer, print what to install, exit 2.

    ``leapfactual --version`` alone is answered before typer loads (a tenth of the time)."""
    if sys.argv[1:] == ["--version"]:
        print(version_line())
        return
    try:
        require("typer", "cli", "the leapfactual command")
    except ImportError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    from leapfactual.cli.app import main as run_app

    run_app()


def version_line() -> str:
    """What ``--version`` prints."""
    from leapfactual import __version__

    return f"leapfactual {__version__}"
