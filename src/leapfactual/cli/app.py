"""Entry point of the ``leapfactual`` command line: the product's commands.

Bad input ends with a one-line message and exit code 2; ``--debug`` shows the traceback
(:mod:`leapfactual.cli.errors`). The paper's experiments have their own command
(``python -m paper`` in the source repository), built the same way.
"""

import logging
from typing import Annotated, Any

import typer

from leapfactual.cli.audit import audit
from leapfactual.cli.console import version_line
from leapfactual.cli.demo import demo
from leapfactual.cli.errors import run_app, state
from leapfactual.cli.explain import explain
from leapfactual.cli.fit import fit
from leapfactual.cli.messages import show_library_messages
from leapfactual.cli.repair import repair
from leapfactual.cli.report import report


class _Group(typer.core.TyperGroup):
    """The root command group, whose ``--help`` flag defaults to ``False``.

    typer 0.29 leaves its help flag's default unset, so parsing any command line converts that
    missing value through a pydantic ``TypeAdapter`` (0.1-0.2 s of CPU importing it) before an
    unknown flag can be reported; a ``False`` default is a plain bool, which typer passes through.
    """

    def get_help_option(self, ctx: Any) -> Any:  # a click Context and Option (typer's own copy)
        option = super().get_help_option(ctx)
        if option is not None:
            option.default = False
        return option


app = typer.Typer(
    name="leapfactual",
    cls=_Group,
    help="Visual counterfactual explanations for image classifiers (LeapFactual, CE-CFM).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # plain help: wrapped at the terminal's width, never cut with "…"
)


def _version(value: bool) -> None:
    if value:
        typer.echo(version_line())
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks on errors and every epoch's loss.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    state["debug"] = debug
    if debug:
        show_library_messages(logging.DEBUG)


for command in (demo, fit, explain, report, audit, repair):
    app.command()(command)


def main() -> None:
    """Run the app (one-line errors, exit code 2; see :func:`leapfactual.cli.errors.run_app`)."""
    run_app(app)
