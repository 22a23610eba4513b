"""The app itself: one real ``python -m leapfactual`` process (the entry point works), the
rest in this process through ``leapfactual.cli.app.main`` (the ``cli`` fixture)."""

import re
import subprocess
import sys
from typing import Annotated

import typer

from leapfactual import __version__
from leapfactual.cli.app import app

PRODUCT = ("demo", "fit", "explain", "report", "audit", "repair")
PAPER = ("bench", "toy", "divergence", "improve", "own-model", "shortcuts", "regression")


def test_help_lists_the_product_commands_only_in_a_real_process() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "leapfactual", "--help"], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0
    lines = out.stdout.splitlines()
    after = lines[lines.index("Commands:") + 1 :]
    listed = {line.split()[0] for line in after if line.startswith("  ") and line[2] != " "}
    assert set(PRODUCT) <= listed
    assert not listed & set(PAPER), "a paper command is in the library's CLI"


def test_version(cli) -> None:
    out = cli("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"leapfactual {__version__}"


def test_bad_option_exits_2(cli) -> None:
    out = cli("explain", "run", "--limit", "-1")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and "--limit" in out.stderr


def test_a_paper_command_is_not_a_library_command(cli) -> None:
    out = cli("toy", "--out", "x")
    assert out.returncode == 2 and "No such command 'toy'" in out.stderr


def test_help_is_wrapped_never_cut(cli, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    for command in PRODUCT:
        out = cli(command, "--help")
        assert out.returncode == 0 and "…" not in out.stdout, command
        assert max(len(line) for line in out.stdout.splitlines()) <= 80, command
    repair = cli("repair", "--help").stdout
    for option in ("--allow-shortcut-teacher", "--ignore-region", "--teacher-spec"):
        assert option in repair
    assert "package.module:function" in repair


def silent_options(app: typer.Typer, command: str, shown: str) -> list[str]:
    """Options of ``command`` whose help names no default (and is not required), or whose
    whole help text is not in ``shown`` (its ``--help`` output: cut or lost)."""
    root = typer.main.get_command(app)
    cmd = root.commands[command]  # type: ignore[attr-defined]
    ctx = root.context_class(cmd, info_name=command)
    squeezed = "".join(shown.split())
    found = []
    for param in cmd.params:
        record = param.get_help_record(ctx) if param.param_type_name == "option" else None
        if record is None or param.name == "help":
            continue
        text = record[1]
        if not re.search(r"\[default: |\(default: |\[required\]", text):
            found.append(f"{command} {param.opts[0]}: no default named")
        if "".join(text.split()) not in squeezed:
            found.append(f"{command} {param.opts[0]}: help cut")
    return found


def test_every_option_names_its_default_in_full(cli, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    silent = [
        line
        for command in PRODUCT
        for line in silent_options(app, command, cli(command, "--help").stdout)
    ]
    assert silent == []


def test_the_default_check_finds_a_silent_option_and_a_cut_help() -> None:
    toy = typer.Typer(rich_markup_mode=None)

    @toy.command()
    def quiet(
        named: Annotated[int, typer.Option(help="Shown with its default.")] = 3,
        unnamed: Annotated[str | None, typer.Option(help="No default given.")] = None,
    ) -> None: ...

    @toy.command()
    def other() -> None: ...

    shown = "--named INTEGER Shown with its default. [default: 3]\n--unnamed TEXT No default"
    assert silent_options(toy, "quiet", shown) == [
        "quiet --unnamed: no default named",
        "quiet --unnamed: help cut",
    ]
