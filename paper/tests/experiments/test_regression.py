from dataclasses import replace

import pytest
import torch

from leapfactual.data import load_mnist5k, stroke_task
from leapfactual.report import NOTE
from paper.experiments.regression import (
    FLOOR,
    NO_CHANGE,
    PAIR_L1,
    VALID,
    RegressionBenchConfig,
    regression_fit_config,
    run_regression_bench,
    targets_of,
    write_regression_page,
)


def test_reduced_bench_scores_every_method_and_the_diverse_ces(tiny_config, tmp_path) -> None:
    task = stroke_task(load_mnist5k().subset(torch.arange(0, 5000, 50)), seed=0)  # 100
    fit = regression_fit_config(
        vae=replace(tiny_config.vae, epochs=10),
        classifier=replace(tiny_config.classifier, epochs=5),
        flow=replace(tiny_config.flow, epochs=30),
    )
    config = RegressionBenchConfig(limit=4, opt_steps=2, attack_steps=3, diverse=2, spreads=(2.0,))
    result = run_regression_bench(tmp_path / "run", fit, config, task=task, device="cpu")
    table = result.table
    assert table.columns[-2:] == [NO_CHANGE, FLOOR]
    for row in (VALID, "L1 to true CE", "thickness error (px)", "length change vs true CE"):
        for col in table.columns:
            assert table.get(row, col) is not None, (row, col)
    assert table.mean("L1 to true CE", NO_CHANGE) > 0.01  # the true CE really differs
    assert table.mean("thickness error (px)", NO_CHANGE) == pytest.approx(1.0, abs=0.3)
    study = result.diversity
    assert study is not None and study.columns == [
        "one CE (K = 1)",
        "noise, spread 2",
        "repel, spread 2",
    ]
    assert study.mean(f"{PAIR_L1}, CE", "noise, spread 2") > 0
    page = write_regression_page(result, tmp_path / "r.md", "leapfactual regression --x", config)
    text = page.read_text()
    title = "# Ground truth: a stroke-thickness regressor"
    assert text.startswith(f"{title}\n\n{NOTE}\n\n- Command: `leapfactual regression --x`")
    assert "## Several CEs per input (K = 2)" in text and "## What the numbers say" in text
    assert (tmp_path / "r.png").exists() and (tmp_path / "r-diverse.png").exists()


def test_targets_move_toward_the_middle_and_bad_settings_are_named(tiny_config, tmp_path) -> None:
    thickness = torch.tensor([1.6, 4.4])
    assert targets_of(thickness, 1.0, (1.5, 4.5)).tolist() == pytest.approx([2.6, 3.4])
    with pytest.raises(ValueError, match="stroke-thickness"):
        run_regression_bench(tmp_path, tiny_config)
    with pytest.raises(ValueError, match="tolerance"):
        RegressionBenchConfig(tolerance=0)
    with pytest.raises(ValueError, match="unknown diversity mechanism"):
        RegressionBenchConfig(mechanisms=("wild",))


def test_the_sentences_pick_the_most_diverse_setting_that_keeps_validity() -> None:
    from paper.bench import Table
    from paper.experiments.regression import (
        ROW_L1,
        ROW_PAIR,
        ROW_VALID,
        diversity_sentences,
        most_diverse,
    )

    columns = ["one CE (K = 1)", "noise, spread 1", "noise, spread 3", "repel, spread 1"]
    table = Table(columns)
    for column, valid, pair in zip(
        columns, [0.95, 0.92, 0.70, 0.94], [0.0, 0.03, 0.09, 0.02], strict=True
    ):
        table.set(ROW_VALID, column, valid)
        table.set(ROW_L1, column, 0.05)
        table.set(ROW_PAIR, column, pair)
    assert most_diverse(table) == "noise, spread 1"  # spread 3 loses 0.25 validity
    said = diversity_sentences(table)
    assert "Most diverse while losing at most 0.05 validity: noise, spread 1" in said[-2]
    assert said[-1].startswith("repel against noise at the same spread: lower validity at 0 of 1")
