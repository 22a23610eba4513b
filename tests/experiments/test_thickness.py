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
    write_thickness_page,
)
from leapfactual.report.pages import NOTE


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
    page = write_thickness_page(result, tmp_path / "t.md", "leapfactual bench --task x", config)
    text = page.read_text()
    title = "# Ground truth: thin vs thick digits (issue 5.1)"
    assert text.startswith(f"{title}\n\n{NOTE}\n\n- Command: `leapfactual bench --task x`")
    assert f"| {RULE} |" in text and "## What the numbers say" in text
    assert (tmp_path / "t.png").stat().st_size > 5_000
    assert len(comparisons(table)) == 7
    looped = "LeapFactual, rule in the loop reliable"
    assert table.mean(RULE, looped) >= 0.6  # the CEs follow the annotator they were made with


def test_the_task_must_be_thickness_data(tiny_config, tmp_path) -> None:
    with pytest.raises(ValueError, match="thickness"):
        run_thickness_bench(tmp_path, tiny_config)
