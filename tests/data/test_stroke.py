import numpy as np
import pytest
import torch

from leapfactual.data import Dataset, load_mnist5k, stroke_task
from leapfactual.morpho import measure


@pytest.fixture(scope="module")
def task():
    return stroke_task(load_mnist5k().subset(torch.arange(0, 5000, 250)), seed=0)  # 20 digits


def test_each_digit_is_set_to_its_value(task) -> None:
    data = task.dataset
    assert data.values is not None and data.values.dtype == torch.float32
    low, high = task.span
    assert (data.values >= low).all() and (data.values < high).all()
    measured = measure(data.images)["thickness"]
    error = np.abs(measured - data.values.numpy())
    assert np.median(error) < 0.15  # the intervention lands on its value
    assert data.labels.tolist() == load_mnist5k().labels[::250].tolist()  # digits keep classes
    again = stroke_task(load_mnist5k().subset(torch.arange(0, 5000, 250)), seed=0)
    assert torch.equal(again.dataset.values, data.values)


def test_the_true_counterfactual_sets_the_asked_thickness(task) -> None:
    index = torch.tensor([0, 3])
    true = task.true_counterfactual(index, torch.tensor([2.0, 4.0]))
    measured = measure(true)["thickness"]
    assert np.allclose(measured, [2.0, 4.0], atol=0.3)
    assert task.dataset.subset(index).values.tolist() == task.dataset.values[index].tolist()


def test_values_are_checked() -> None:
    images, labels = torch.zeros(2, 1, 4, 4), torch.zeros(2, dtype=torch.long)
    for values, message in (
        (torch.zeros(3), "3 values for 2 images"),
        (torch.zeros(2, dtype=torch.float64), "float32"),
        (torch.tensor([0.0, float("nan")]), "NaN"),
    ):
        with pytest.raises(ValueError, match=message):
            Dataset(images, labels, ["a"], values=values)
