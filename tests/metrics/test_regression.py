import pytest
import torch

from leapfactual.metrics import value_validity


def test_validity_is_the_share_within_the_tolerance() -> None:
    values = torch.tensor([[1.0], [1.2], [2.0], [0.5]])
    assert value_validity(values, 1.0, 0.25) == 0.5
    assert value_validity(values[:, 0], torch.tensor([1.0, 1.0, 2.0, 0.0]), 0.25) == 0.75
    with pytest.raises(ValueError, match="tolerance"):
        value_validity(values, 1.0, 0.0)
