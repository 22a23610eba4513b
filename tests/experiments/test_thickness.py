import pytest
import torch

from leapfactual.data import load_mnist5k, thickness_task
from leapfactual.experiments.morphomnist import MorphoBenchConfig
from leapfactual.experiments.thickness import (
    FLOOR,
    NO_CHANGE,
    RULE,
    comparisons,
    run_thickness_bench,
    thickness_fit_config,
    write_results_page,
)


@pytest.fixture(scope="module")
def small_task():
    return thickness_task(load_mnist5k().subset(torch.arange(0, 5000, 25)), seed=0)  # 200


def test_reduced_bench_scores_every_method_against_the_truth(small_task, tiny_config, tmp_path):
    from dataclasses import asdict

    settings = {k: v for k, v in asdict(tiny_config).items() if k != "data"}
    # 160 training digits: enough epochs for models that work at all (a few seconds)
    fit = thickness_fit_config(
        **settings | {"vae_epochs": 30, "classifier_epochs": 10, "flow_epochs": 100}
    )
    config = MorphoBenchConfig(
        n=10, methods=("opt", "cgm", "leapfactual", "leapfactual-reliable"), opt_steps=3
    )
    result = run_thickness_bench(tmp_path / "run", fit, config, task=small_task)
    table = result.table
    assert table.columns[-2:] == [NO_CHANGE, FLOOR]
    for row in (RULE, "L1 to true CE", "SSIM to true CE", "thickness error (px)"):
        for col in table.columns:
            assert table.get(row, col) is not None, (row, col)
    # the references frame the scale: no change never obeys the rule, the true CE does
    assert table.mean(RULE, NO_CHANGE) == 0 and table.mean(RULE, FLOOR) > 0.6
    assert table.mean("L1 to true CE", NO_CHANGE) > 0.05  # the twin really differs
    error = "thickness error (px)"
    assert table.mean(error, NO_CHANGE) > 1.5 > table.mean(error, FLOOR)
    assert set(result.images) == {"input", "true CE", *table.columns[:-2]}
    page = write_results_page(result, tmp_path / "t.md", "leapfactual bench --task x", config)
    text = page.read_text()
    assert "leapfactual bench --task x" in text and f"| {RULE} |" in text
    assert (tmp_path / "t.png").stat().st_size > 5_000
    assert len(comparisons(table)) == 7
    looped = "LeapFactual, rule in the loop reliable"
    assert table.mean(RULE, looped) >= 0.6  # the CEs follow the annotator they were made with


def test_the_task_must_be_thickness_data(tiny_config, tmp_path) -> None:
    with pytest.raises(ValueError, match="thickness"):
        run_thickness_bench(tmp_path, tiny_config)
