import subprocess
import sys
from types import SimpleNamespace

from typer.testing import CliRunner

from leapfactual.cli.app import app


def _fake(seen):
    def run(cfg, out, page, command, log):
        seen.update(cfg=cfg, page=page, command=command)
        return SimpleNamespace(
            settings=lambda: ["weak baseline"], mean=lambda s, k: 0.5, page=page, seconds=60.0
        )

    return run


def test_improve_passes_options_to_the_experiment(monkeypatch, tmp_path) -> None:
    seen = {}
    monkeypatch.setattr("leapfactual.experiments.improvement.run_improvement", _fake(seen))
    args = [
        "improve",
        "--page",
        str(tmp_path / "i.md"),
        "--data",
        "mnist5k",
        "--seeds",
        "5",
        "--fractions",
        "0,0.1",
        "--oracle-filter",
        "--n-train",
        "0",
    ]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    cfg = seen["cfg"]
    assert cfg.data == "mnist5k" and cfg.seeds == (5,) and cfg.fractions == (0.0, 0.1)
    assert cfg.oracle_filter and cfg.n_train is None and cfg.n_test == 1000
    assert "accuracy 0.500  AUROC 0.500" in done.output


def test_galaxy10_spec_selects_the_paper_configuration(monkeypatch, tmp_path) -> None:
    seen = {}
    monkeypatch.setattr("leapfactual.experiments.improvement.run_improvement", _fake(seen))
    done = CliRunner().invoke(app, ["improve", "--data", "galaxy10:/x/G.h5"])
    assert done.exit_code == 0, done.output
    cfg = seen["cfg"]
    assert cfg.data == "galaxy10:/x/G.h5" and cfg.models.latent_dim == 64
    assert cfg.n_train is None and cfg.n_test is None and cfg.test_fraction == 0.1


def test_bad_fractions_are_a_one_line_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "leapfactual", "improve", "--fractions", "0,ten"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "fractions must be comma-separated numbers" in done.stderr
