import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from typer.testing import CliRunner

from paper.cli.app import app

ROOT = Path(__file__).resolve().parents[3]


def _fake(seen):
    def run(cfg, log, device):
        seen.update(cfg=cfg, device=device)
        table = {
            "LeapFactual": {"validity_model": (0.9, 0), "validity_truth": (0.7, 0), "gap": (0.2, 0)}
        }
        return SimpleNamespace(summary={"table": table}, seconds=6.0)

    def write(result, path, command):
        seen.update(path=path, command=command)
        return path.with_suffix(".md")

    return run, write


def test_divergence_passes_options_to_the_experiment(monkeypatch, tmp_path) -> None:
    seen = {}
    run, write = _fake(seen)
    monkeypatch.setattr("paper.experiments.divergence.run_divergence", run)
    monkeypatch.setattr("paper.experiments.divergence.write_divergence_page", write)
    args = ["divergence", "--out", str(tmp_path / "d"), "--seeds", "3,4", "--limit", "7"]
    args += ["--methods", "leapfactual,pixel_attack", "--n-train", "0", "--device", "cpu"]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    cfg = seen["cfg"]
    assert cfg.seeds == (3, 4) and cfg.limit == 7 and cfg.n_train is None
    assert cfg.methods == ("leapfactual", "pixel_attack") and seen["path"] == tmp_path / "d"
    assert seen["device"] == "cpu" and seen["command"].startswith("python -m paper ")
    assert "model 0.900  truth 0.700  gap +0.200" in done.output
    assert f"page: {tmp_path / 'd.md'}" in done.output


def test_results_go_under_runs_by_default(monkeypatch) -> None:
    seen = {}
    run, write = _fake(seen)
    monkeypatch.setattr("paper.experiments.divergence.run_divergence", run)
    monkeypatch.setattr("paper.experiments.divergence.write_divergence_page", write)
    done = CliRunner().invoke(app, ["divergence"])
    assert done.exit_code == 0, done.output
    assert seen["path"].parts[0] == "runs" and seen["device"] is None


def test_help_lists_the_registry_methods() -> None:
    done = CliRunner().invoke(app, ["divergence", "--help"], env={"COLUMNS": "200"})
    assert "latent_attack" in done.output and "--limit" in done.output
    assert "--page" not in done.output and "--device" in done.output


def test_bad_method_is_a_one_line_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "paper", "divergence", "--methods", "magic"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: unknown method 'magic'; choose one of ['leapfactual'")
