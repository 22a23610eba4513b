import pytest
import torch

from leapfactual.data import load_mnist5k, thickness_task
from leapfactual.report import NOTE
from paper.experiments.morphomnist import MorphoBenchConfig
from paper.experiments.thickness import (
    FLOOR,
    NO_CHANGE,
    RULE,
    comparisons,
    run_thickness_bench,
    thickness_fit_config,
    write_thickness_page,
)


@pytest.fixture(scope="module")
def small_task():
    return thickness_task(load_mnist5k().subset(torch.arange(0, 5000, 25)), seed=0)  # 200


def test_reduced_bench_scores_every_method_against_the_truth(small_task, tiny_config, tmp_path):
    from dataclasses import replace

    # 160 training digits: enough epochs for models that work at all (a few seconds)
    fit = thickness_fit_config(
        vae=replace(tiny_config.vae, epochs=30),
        classifier=replace(tiny_config.classifier, epochs=10),
        flow=replace(tiny_config.flow, epochs=100),
        cvae=tiny_config.cvae,
    )
    config = MorphoBenchConfig(limit=10, methods=("opt", "cgm", "leapfactual"), opt_steps=3)
    result = run_thickness_bench(tmp_path / "run", fit, config, task=small_task, device="cpu")
    (table,) = result.tables.tables
    assert table.columns[-2:] == [NO_CHANGE, FLOOR]
    for row in (
        RULE,
        "robust validity",
        "L1 to true CE",
        "SSIM to true CE",
        "thickness error (px)",
    ):
        for col in table.columns:
            assert table.get(row, col) is not None, (row, col)
    for col in table.columns:  # robust: valid, and still valid after round trip, blur, noise
        assert table.mean("robust validity", col) <= table.mean("accuracy to target", col)
    # the references frame the scale: no change never obeys the rule, the true CE does
    assert table.mean(RULE, NO_CHANGE) == 0 and table.mean(RULE, FLOOR) > 0.6
    assert table.mean("L1 to true CE", NO_CHANGE) > 0.05  # the twin really differs
    error = "thickness error (px)"
    assert table.mean(error, NO_CHANGE) > 1.5 > table.mean(error, FLOOR)
    assert set(result.images) == {"input", "true CE", *table.columns[:-2]}
    page = write_thickness_page(result, tmp_path / "t.md", "leapfactual bench --task x", config)
    text = page.read_text()
    title = "# Ground truth: thin vs thick digits (issue 5.1)"
    assert text.startswith(f"{title}\n\n{NOTE}\n\n- Command: `leapfactual bench --task x`")
    assert f"| {RULE} |" in text and "## What the numbers say" in text
    assert "One seed (0)" in text and "`t-seeds.csv`" in text
    assert (tmp_path / "t.png").stat().st_size > 5_000
    said = comparisons(result.tables)
    assert len(said) == 7 and "best in 1 of 1" in said[0]
    looped = "LeapFactual, rule in the loop reliable"
    assert table.mean(RULE, looped) >= 0.6  # the CEs follow the annotator they were made with


def test_the_task_must_be_thickness_data(tiny_config, tmp_path) -> None:
    with pytest.raises(ValueError, match="thickness"):
        run_thickness_bench(tmp_path, tiny_config)


def test_the_verdicts_name_the_best_and_its_ties() -> None:
    from paper.bench import Table
    from paper.bench.seeds import SeedTables

    l1 = "L1 to true CE"
    values = {"Opt-based": [0.10, 0.11, 0.09], "CGM-based": [0.050, 0.056, 0.047]}
    values |= {"LeapFactual": [0.052, 0.050, 0.049], NO_CHANGE: [0.09] * 3, FLOOR: [0.03] * 3}
    tables = []
    for k in range(3):
        table = Table(list(values))
        for column, cells in values.items():
            table.set(l1, column, cells[k])
        tables.append(table)
    runs = SeedTables((0, 1, 2), tables)
    said = comparisons(runs)[0]
    assert said.startswith(
        "Closest to the true CE (L1): LeapFactual (0.050 ± 0.004; best in 1 of 3), tied with "
        "CGM-based;"
    )
    closer = next(s for s in comparisons(runs) if s.startswith("Of the paper's baselines"))
    assert "closer to the true CE than Opt-based; tied with CGM-based" in closer
