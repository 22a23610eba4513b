import subprocess
import sys
from types import SimpleNamespace

from typer.testing import CliRunner

from leapfactual.cli.app import app


def test_divergence_passes_options_to_the_experiment(monkeypatch, tmp_path) -> None:
    seen = {}

    def fake(cfg, out, page, command, log):
        seen.update(cfg=cfg, out=out, page=page, command=command)
        table = {
            "LeapFactual": {"validity_model": (0.9, 0), "validity_truth": (0.7, 0), "gap": (0.2, 0)}
        }
        return SimpleNamespace(summary={"table": table}, page=page, seconds=6.0)

    monkeypatch.setattr("leapfactual.experiments.divergence.run_divergence", fake)
    page = tmp_path / "d.md"
    done = CliRunner().invoke(
        app,
        [
            "divergence",
            "--page",
            str(page),
            "--seeds",
            "3,4",
            "--n",
            "7",
            "--methods",
            "leapfactual,pixel",
            "--n-train",
            "0",
        ],
    )
    assert done.exit_code == 0, done.output
    cfg = seen["cfg"]
    assert cfg.seeds == (3, 4) and cfg.n_explain == 7 and cfg.n_train is None
    assert cfg.methods == ("leapfactual", "pixel") and seen["page"] == page
    assert seen["command"].startswith("leapfactual ")
    assert "model 0.900  truth 0.700  gap +0.200" in done.output


def test_bad_method_is_a_one_line_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "leapfactual", "divergence", "--methods", "magic"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and done.stderr.startswith("error: unknown methods ['magic']")
