import numpy as np
import pytest
import torch

from leapfactual.data import (
    Dataset,
    ThicknessLevels,
    ThicknessRule,
    load_dataset,
    load_mnist5k,
    load_thickness_task,
    thickness_task,
)
from leapfactual.morpho import measure


@pytest.fixture(scope="module")
def task():
    base = load_mnist5k()
    return thickness_task(base.subset(torch.arange(0, 5000, 125)), seed=3)  # 40 digits


def test_classes_are_balanced_and_images_have_their_set_thickness(task) -> None:
    data = task.dataset
    assert data.class_names == ["thin", "thick"] and len(data) == 40
    assert int(data.labels.sum()) == 20
    measured = measure(data.images)["thickness"]
    goal = task.thickness().numpy()
    assert np.median(np.abs(measured - goal)) < 0.05
    thin, thick = task.levels.thin, task.levels.thick
    assert np.all((goal[data.labels == 0] >= thin[0]) & (goal[data.labels == 0] < thin[1]))
    assert np.all((goal[data.labels == 1] >= thick[0]) & (goal[data.labels == 1] < thick[1]))


def test_true_counterfactual_is_the_twin_of_the_other_class(task) -> None:
    index = torch.arange(10)
    labels = task.dataset.labels[index]
    twin = task.thickness(index, flip=True)
    assert torch.allclose(twin, task.levels.level(1 - labels, task.position[index]))
    gap = task.levels.thick[0] - task.levels.thin[0]
    assert torch.allclose((twin - task.thickness(index)).abs(), torch.full((10,), gap).double())
    x_true = task.true_counterfactual(index)
    rule = task.rule()
    assert torch.equal(rule(task.dataset.images[index]).argmax(1), labels)
    assert torch.equal(rule(x_true).argmax(1), 1 - labels)
    # only the stroke changes: the skeleton's length stays close to the image's
    before, after = measure(task.dataset.images[index]), measure(x_true)
    assert np.median(np.abs(after["length"] - before["length"]) / before["length"]) < 0.15


def test_same_seed_same_task_and_another_seed_differs() -> None:
    base = load_mnist5k().subset(torch.arange(0, 5000, 500))
    a, b, c = thickness_task(base, 1), thickness_task(base, 1), thickness_task(base, 2)
    assert torch.equal(a.dataset.images, b.dataset.images)
    assert not torch.equal(a.dataset.labels, c.dataset.labels) or not torch.equal(
        a.position, c.position
    )


def test_rule_is_a_black_box_classifier_on_the_input_dtype() -> None:
    rule = ThicknessRule(2.75)
    images = torch.zeros(3, 1, 28, 28, dtype=torch.float64)
    images[1, 0, 5:20, 12:14] = 1.0  # a 2-pixel bar: thin
    images[2, 0, 5:20, 10:16] = 1.0  # a 6-pixel bar: thick
    logits = rule(images)
    assert logits.shape == (3, 2) and logits.dtype == torch.float64
    assert logits.argmax(1).tolist() == [0, 0, 1]  # an empty image counts as thin
    assert "2.75" in repr(rule)


def test_registry_spec_and_cache() -> None:
    data = load_dataset("thickness", limit=12)
    assert data.num_classes == 2 and len(data) == 12
    assert load_dataset("thickness", limit=12) is data  # built once per process
    again = load_thickness_task(load_mnist5k(), limit=12).dataset  # the same, from a Dataset
    assert torch.equal(again.images, data.images) and torch.equal(again.labels, data.labels)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ThicknessLevels(thin=(2.0, 3.0), thick=(2.5, 3.5)), "thin"),
        (lambda: ThicknessLevels(thin=(1.0, 2.0), thick=(3.0, 3.5)), "equal length"),
        (lambda: ThicknessRule(-1.0), "positive"),
        (lambda: load_thickness_task(load_mnist5k(), limit=1), "at least 2"),
        (
            lambda: thickness_task(
                Dataset(torch.zeros(2, 3, 8, 8), torch.zeros(2).long(), ["a"], "rgb")
            ),
            "grey",
        ),
    ],
)
def test_bad_settings_are_named(call, match) -> None:
    with pytest.raises(ValueError, match=match):
        call()
