"""The app itself: one real ``python -m leapfactual`` process (the entry point works), the
rest in this process through ``leapfactual.cli.app.main`` (the ``cli`` fixture)."""

import subprocess
import sys

from leapfactual import __version__

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
