import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from typer.testing import CliRunner

from paper.cli.app import app

ROOT = Path(__file__).resolve().parents[3]


def _fake(seen, monkeypatch):
    def run(cfg, log, device):
        seen.update(cfg=cfg, device=device)
        return SimpleNamespace(
            settings=lambda: ["weak baseline"], mean=lambda s, k: 0.5, seconds=60.0
        )

    def write(result, path, command):
        seen.update(path=path, command=command)
        return path.with_suffix(".md")

    monkeypatch.setattr("paper.experiments.improvement.run_improvement", run)
    monkeypatch.setattr("paper.experiments.improvement.write_improvement_page", write)


def test_improve_passes_options_to_the_experiment(monkeypatch, tmp_path) -> None:
    seen = {}
    _fake(seen, monkeypatch)
    args = [
        "improve",
        "--out",
        str(tmp_path / "i"),
        "--data",
        "mnist5k",
        "--seeds",
        "5",
        "--fractions",
        "0,0.1",
        "--oracle-filter",
        "--n-train",
        "0",
        "--device",
        "cpu",
    ]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    cfg = seen["cfg"]
    assert cfg.data == "mnist5k" and cfg.seeds == (5,) and cfg.fractions == (0.0, 0.1)
    assert cfg.oracle_filter and cfg.n_train is None and cfg.n_test == 1000
    assert seen["path"] == tmp_path / "i" and seen["device"] == "cpu"
    assert seen["command"].startswith("python -m paper ")
    assert "accuracy 0.500  AUROC 0.500" in done.output


def test_galaxy10_spec_selects_the_paper_configuration(monkeypatch) -> None:
    seen = {}
    _fake(seen, monkeypatch)
    done = CliRunner().invoke(app, ["improve", "--data", "galaxy10:/x/G.h5"])
    assert done.exit_code == 0, done.output
    cfg = seen["cfg"]
    assert cfg.data == "galaxy10:/x/G.h5" and cfg.models.vae.latent_dim == 64
    assert cfg.n_train is None and cfg.n_test is None and cfg.test_fraction == 0.1
    assert seen["path"].parts[0] == "runs"  # never docs/results/ unless asked


def test_bad_fractions_are_a_one_line_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "paper", "improve", "--fractions", "0,ten"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "fractions must be comma-separated numbers" in done.stderr
