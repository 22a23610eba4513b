"""A run that holds a regressor: fitted on scalar values, explained toward values."""

from dataclasses import replace

import pytest
import torch

from leapfactual.data import load_mnist5k, stroke_task
from leapfactual.pipeline import ExplainSettings, explain_run, fit_run, load_run
from leapfactual.pipeline.settings import ClassifierSettings


@pytest.fixture(scope="module")
def task():
    return stroke_task(load_mnist5k().subset(torch.arange(0, 5000, 50)), seed=0)  # 100 digits


@pytest.fixture(scope="module")
def regression_run(tmp_path_factory, make_tiny_config, task):
    config = make_tiny_config(data="stroke-thickness")
    config = replace(config, classifier=replace(config.classifier, kind="regressor"))
    return fit_run(tmp_path_factory.mktemp("reg") / "run", config, dataset=task.dataset)


def test_the_run_fits_a_regressor_and_a_value_flow(regression_run, task) -> None:
    run = regression_run
    assert run.outputs == "value"
    assert run.flow is not None and run.flow.condition.kind == "value"
    out = run.classifier(task.dataset.images[:3])
    assert out.shape == (3, 1)
    assert {"regressor_test_mae", "regressor_change_on_reconstructions"} <= set(run.summary)
    back = load_run(run.directory, dataset=task.dataset)
    assert back.outputs == "value" and back.flow.condition == run.flow.condition


@pytest.mark.parametrize("method", ["leapfactual", "opt", "latent_attack"])
def test_explained_toward_a_shift_or_a_value(regression_run, method, tmp_path) -> None:
    options = (
        {"steps": 3} if method == "opt" else {"max_steps": 3} if method != "leapfactual" else {}
    )
    settings = ExplainSettings(
        method=method, target_shift=0.5, tolerance=0.2, limit=4, options=options
    )
    exp = explain_run(regression_run, tmp_path / "a", settings=settings).explanation
    assert exp is not None and exp.tolerance == 0.2
    assert torch.allclose(exp.target, exp.source + 0.5)
    fixed = ExplainSettings(
        method=method, target_value=3.0, tolerance=0.2, limit=4, options=options
    )
    exp = explain_run(regression_run, None, settings=fixed).explanation
    assert exp is not None and torch.equal(exp.target, torch.full((4,), 3.0))


def test_diverse_ces_of_a_regressor(regression_run) -> None:
    settings = ExplainSettings(target_value=3.0, tolerance=0.2, limit=3, diverse=2)
    exp = explain_run(regression_run, None, settings=settings).explanation
    assert exp is not None and len(exp) == 6 and exp.variant.tolist() == [0, 1] * 3


def test_bad_regression_jobs_are_named(regression_run, tiny_run, tmp_path) -> None:
    cases = [
        (regression_run, ExplainSettings(tolerance=0.2), "exactly one of --target-value"),
        (regression_run, ExplainSettings(target_value=3.0), "need a tolerance"),
        (
            regression_run,
            ExplainSettings(method="reflection", target_value=3.0, tolerance=0.2),
            "explains classifiers only",
        ),
        (tiny_run, ExplainSettings(target_value=3.0), "for a regressor's run"),
        (tiny_run, ExplainSettings(tolerance=0.2, limit=2), "for regressors"),
    ]
    for run, settings, message in cases:
        with pytest.raises(ValueError, match=message):
            explain_run(run, None, settings=settings)
    with pytest.raises(ValueError, match="made in memory"):
        explain_run(
            regression_run,
            tmp_path / "s",
            settings=ExplainSettings(target_value=3.0, tolerance=0.2, limit=2, diverse=2),
            shard_size=2,
        )
    with pytest.raises(ValueError, match="give target_value or target_shift, not both"):
        ExplainSettings(target_value=1.0, target_shift=1.0)


def test_a_regressors_job_without_tolerance_is_refused_before_any_model_loads(
    regression_run, tmp_path
) -> None:
    import shutil

    bare = tmp_path / "bare"
    shutil.copytree(regression_run.directory, bare)
    for model in bare.glob("*.safetensors"):
        if model.name != "split.safetensors":
            model.unlink()  # loading any model would fail on its missing file
    with pytest.raises(ValueError, match="need a tolerance"):
        explain_run(bare, None, settings=ExplainSettings(target_value=3.0))


def test_a_regressor_needs_values_and_no_cvae(regression_run, make_tiny_config, tmp_path) -> None:
    config = make_tiny_config()
    config = replace(config, classifier=replace(config.classifier, kind="regressor"))
    with pytest.raises(ValueError, match="has none; use a dataset with values"):
        fit_run(tmp_path / "r", config, stages=("classifier",))
    with pytest.raises(ValueError, match="CGM baseline, which explains classifiers only"):
        fit_run(
            regression_run.directory,
            regression_run.config,
            stages=("cvae",),
            dataset=regression_run.dataset,
        )
    with pytest.raises(ValueError, match=r"unknown classifier\.kind"):
        ClassifierSettings(kind="ranker")


def test_a_regressors_job_in_shards_equals_the_one_in_memory(regression_run, tmp_path) -> None:
    settings = ExplainSettings(target_shift=0.5, tolerance=0.2, limit=5, inject=None)
    whole = explain_run(regression_run, None, settings=settings, trajectory="none").explanation
    sharded = explain_run(regression_run, tmp_path / "s", settings=settings, shard_size=2)
    assert sharded.explanation is None and sharded.stored is not None and whole is not None
    exp = sharded.stored.load()
    assert exp.tolerance == 0.2
    assert torch.equal(exp.target, whole.target)
    # shards of 2 batch differently from the job of 5: the CPU's kernels round per batch size
    # (up to 2e-6 per pixel with one thread), so equal up to float rounding
    assert torch.allclose(exp.x_cf, whole.x_cf, atol=1e-5)
