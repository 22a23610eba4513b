import subprocess
import sys


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leapfactual", *args], capture_output=True, text=True, timeout=300
    )


def test_help_lists_commands() -> None:
    out = run_cli("--help")
    assert out.returncode == 0 and "toy" in out.stdout


def test_bad_option_exits_2() -> None:
    out = run_cli("toy", "--epochs", "0")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr


def test_toy_command_writes_figure(tmp_path) -> None:
    out = run_cli("toy", "--out", str(tmp_path), "--epochs", "40")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "toy.png").stat().st_size > 20_000
    assert "figure:" in out.stdout
