"""The ``toy`` command and the paper app's own help."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_help_lists_the_paper_commands_in_a_real_process() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "paper", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    for command in ("bench", "toy", "divergence", "improve", "own-model", "shortcuts"):
        assert command in out.stdout


def test_bad_option_exits_2(cli) -> None:
    out = cli("toy", "--epochs", "0")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and "--epochs" in out.stderr


def test_toy_command_writes_figure(cli, tmp_path) -> None:
    out = cli("toy", "--out", str(tmp_path), "--epochs", "5")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "toy.png").stat().st_size > 20_000
    assert f"figure: {tmp_path / 'toy.png'}" in out.stdout
