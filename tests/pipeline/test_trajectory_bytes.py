"""``explain --trajectory``: none < latents < images on disk (benchmarks/trajectory_bytes.py,
the command whose numbers ``leapfactual explain --help`` states)."""

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "trajectory_bytes.py"


def test_each_trajectory_setting_costs_more_than_the_last(tiny_run) -> None:
    spec = importlib.util.spec_from_file_location("trajectory_bytes", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    sizes = bench.bytes_per_ce(tiny_run.directory, limit=4)
    assert list(sizes) == ["none", "latents", "images"]
    assert sizes["none"] < sizes["latents"] < sizes["images"]
    # 28x28 images: every kept leap image costs more than all the latents of a CE
    assert sizes["images"] - sizes["latents"] > 4 * (sizes["latents"] - sizes["none"])
