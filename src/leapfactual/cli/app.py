"""Entry point of the ``leapfactual`` command line.

Bad input ends with a one-line message and exit code 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

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


@app.command()
def toy(
    out: Annotated[Path, typer.Option(help="Directory for toy.png.")] = Path("runs/toy"),
    epochs: Annotated[int, typer.Option(min=1, help="Flow training epochs over the points.")] = 150,
    seed: Annotated[int, typer.Option(help="Seed of data, weights and sampling.")] = 0,
) -> None:
    """Train the 2-D quadrant flow and draw the paper's five-panel toy figure."""
    from leapfactual.experiments.toy import ToyConfig, run_toy

    result = run_toy(out, ToyConfig(epochs=epochs, seed=seed), progress=True)
    exp = result.explanation
    typer.echo(
        f"CE validity {exp.valid.float().mean():.2f}, reliable CE validity "
        f"{exp.valid_reliable.float().mean():.2f} (start points -> quadrant 3)"  # type: ignore[union-attr]
    )
    typer.echo(f"figure: {result.figure}")


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
