"""The app itself: one real ``python -m leapfactual`` process (the entry point works), the
rest in this process through ``leapfactual.cli.app.main`` (the ``cli`` fixture)."""

import subprocess
import sys

from leapfactual import __version__


def test_help_lists_commands_in_a_real_process() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "leapfactual", "--help"], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0 and "toy" in out.stdout
    for command in ("fit", "explain", "report", "bench"):
        assert command in out.stdout


def test_version(cli) -> None:
    out = cli("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"leapfactual {__version__}"


def test_bad_option_exits_2(cli) -> None:
    out = cli("toy", "--epochs", "0")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and "--epochs" in out.stderr


def test_toy_command_writes_figure(cli, tmp_path) -> None:
    out = cli("toy", "--out", str(tmp_path), "--epochs", "5")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "toy.png").stat().st_size > 20_000
    assert f"figure: {tmp_path / 'toy.png'}" in out.stdout
