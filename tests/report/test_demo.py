import json
import shutil

from leapfactual.report import DemoConfig, run_demo, write_demo_report

from .browser import probe_images


def test_reduced_demo_writes_report_grid_and_metrics(tiny_run, tiny_config, tmp_path) -> None:
    shutil.copytree(tiny_run.directory, tmp_path / "run")  # reuse the fitted tiny models
    demo = DemoConfig(limit=16, n_report=3)
    result = run_demo(tmp_path / "run", tiny_config, demo, device="cpu")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # computing writes nothing
    files = write_demo_report(result, tmp_path / "out", "leapfactual demo --limit 16")
    metrics = json.loads(files.metrics.read_text())
    assert metrics["held_out_explained"] == 16
    assert 0 <= metrics["ce_validity"] <= 1 and "ce_validity_reliable" in metrics
    assert metrics["ce_decoder_evals_per_ce"] == 21  # trajectories kept: every leap decoded
    assert files.grid.read_bytes()[:4] == b"\x89PNG"
    assert "leapfactual demo --limit 16" in files.report.read_text()
    assert result.explanation.trajectory_images is None  # latents kept, shown paths decoded
    seen = probe_images(files.report)
    failed = int((~result.explanation.valid).sum())
    # 3 cards (6 images, the animated path, 21 leaps), a 10 x 10 grid, one thumbnail per
    # failed CE and one per CE in the list of all CEs
    assert seen["n"] == 3 * (6 + 1 + 21) + 100 + failed + 16
    assert seen["decoded"] == seen["n"]
    page = files.report.read_text()
    assert 'id="curves"' in page
    assert "SSIM to input" in page
