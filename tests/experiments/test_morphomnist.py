import shutil

import pytest

from leapfactual.experiments.morphomnist import (
    FLOOR,
    MorphoBenchConfig,
    comparisons,
    run_morpho_bench,
    write_morphomnist_page,
)
from leapfactual.report.pages import NOTE


def test_reduced_bench_fills_every_row_and_writes_the_page(tiny_run, tiny_config, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(tiny_run.directory, run_dir)  # adds only the oracle and cvae stages
    config = MorphoBenchConfig(limit=12, opt_steps=3, attack_steps=3)
    result = run_morpho_bench(run_dir, tiny_config, config, device="cpu")
    table = result.table
    assert table.columns == [
        "Opt-based",
        "CGM-based",
        "LeapFactual",
        "LeapFactual reliable",
        "Latent attack",
        "Latent reflection",
        "Pixel attack",
        FLOOR,
    ]
    for row in (
        "accuracy to target",
        "AUROC",
        "oracle validity",
        "thickness",
        "slant",
        "FID",
        "sFID",
        "SSIM to input",
        "seconds per CE",
    ):
        assert row in table.rows, row
    for col in table.columns[:-1]:
        assert 0 <= table.mean("accuracy to target", col) <= 1
    assert table.mean("gradient steps per CE", "LeapFactual") == 0
    assert table.mean("gradient steps per CE", "Opt-based") == 3
    page = write_morphomnist_page(
        result, tmp_path / "m.md", "leapfactual bench --limit 12", tiny_config, config
    )
    text = page.read_text()
    title = "# Morpho-MNIST benchmark (docs/method.md §6.2)"
    assert text.startswith(f"{title}\n\n{NOTE}\n\n- Command: `leapfactual bench --limit 12`")
    assert "| accuracy to target |" in text and "`m.csv` and `m.html`" in text
    assert "## The paper's numbers" in text and "PSNR" in text
    assert len(comparisons(table)) == 6


def test_method_names_are_the_registry_names() -> None:
    for old in ("attack", "pixel", "leapfactual-reliable", "foo"):
        with pytest.raises(ValueError, match=rf"unknown method '{old}'; choose one of"):
            MorphoBenchConfig(methods=("opt", old))
    with pytest.raises(ValueError, match=r"\['opt'\] have no reliable variant"):
        MorphoBenchConfig(reliable=("opt",))
    with pytest.raises(ValueError, match="limit must be 0"):
        MorphoBenchConfig(limit=3)
    assert MorphoBenchConfig(limit=0).explained(17) == 17
