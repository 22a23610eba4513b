import shutil

from leapfactual.experiments.morphomnist import (
    FLOOR,
    MorphoBenchConfig,
    comparisons,
    run_morpho_bench,
    write_results_page,
)


def test_reduced_bench_fills_every_row_and_writes_the_page(tiny_run, tiny_config, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(tiny_run.directory, run_dir)  # adds only the oracle and cvae stages
    config = MorphoBenchConfig(n=12, opt_steps=3, attack_steps=3)
    result = run_morpho_bench(run_dir, tiny_config, config)
    table = result.table
    assert table.columns[-1] == FLOOR and "LeapFactual reliable" in table.columns
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
    page = write_results_page(
        result, tmp_path / "m.md", "leapfactual bench --n 12", tiny_config, config
    )
    text = page.read_text()
    assert "leapfactual bench --n 12" in text and "| accuracy to target |" in text
    assert len(comparisons(table)) == 6


def test_unknown_method_is_refused_at_once() -> None:
    import pytest

    with pytest.raises(ValueError, match=r"unknown methods \['foo'\]"):
        MorphoBenchConfig(methods=("foo",))
