import math

import numpy as np
import pytest
import torch

from leapfactual.data import load_mnist5k
from leapfactual.metrics import ground_truth_scores
from leapfactual.morpho import measure, set_thickness


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    return load_mnist5k().images[::250][:12]


def test_the_true_ce_itself_scores_perfectly_but_for_the_intervention_error(digits) -> None:
    x_true = set_thickness(digits, 3.0)
    s = ground_truth_scores(x_true, x_true, 3.0)
    assert s["l1"] == 0 and s["ssim"] == pytest.approx(1.0)
    measured = measure(x_true)["thickness"]
    assert s["error"][0] == pytest.approx(float(np.mean(np.abs(measured - 3.0))))
    for name in ("length", "slant", "width", "height"):
        assert s[name][0] == 0


def test_a_wrong_thickness_is_charged_to_the_error(digits) -> None:
    x_true = set_thickness(digits, 3.0)
    thin = set_thickness(digits, 1.5)
    close, far = ground_truth_scores(x_true, x_true, 3.0), ground_truth_scores(thin, x_true, 3.0)
    assert far["error"][0] > close["error"][0] + 1.0
    assert far["l1"] > 0.02 and far["ssim"] < close["ssim"]


def test_mask_and_per_ce_values(digits) -> None:
    values = torch.linspace(2.0, 3.5, len(digits))
    x_true = set_thickness(digits, values.numpy())
    mask = torch.zeros(len(digits), dtype=torch.bool)
    mask[:3] = True
    s = ground_truth_scores(digits, x_true, values, mask=mask)
    full = measure(digits)["thickness"][:3]
    assert s["error"][0] == pytest.approx(float(np.mean(np.abs(full - values[:3].numpy()))))
    none = ground_truth_scores(digits, x_true, values, mask=torch.zeros_like(mask))
    assert math.isnan(none["error"][0])


def test_unknown_measurement_is_named(digits) -> None:
    with pytest.raises(ValueError, match="unknown measurements"):
        ground_truth_scores(digits, digits, 2.0, measurement="curvature")
