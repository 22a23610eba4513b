import math

import pytest
import torch

from leapfactual.metrics import diversity


def test_pairwise_distances_of_images_and_of_changes() -> None:
    x = torch.zeros(2, 1, 2, 2)  # one input, two CEs
    cf = torch.zeros(2, 1, 2, 2)
    cf[0, 0, 0, 0] = 1.0  # changes one pixel
    cf[1, 0, 1, 1] = 1.0  # changes another: orthogonal changes
    out = diversity(cf, x, 2)
    assert out == {"l1": 0.5, "change_cosine": 1.0, "pairs": 1.0}
    same = diversity(torch.stack([cf[0], cf[0]]), x, 2)
    assert same["l1"] == 0.0 and same["change_cosine"] == pytest.approx(0.0, abs=1e-12)
    opposite = diversity(torch.stack([cf[0], -cf[0]]), x, 2)
    assert opposite["change_cosine"] == pytest.approx(2.0)


def test_the_mask_keeps_pairs_of_kept_ces_only() -> None:
    x = torch.zeros(6, 1, 1, 2)
    cf = torch.rand(6, 1, 1, 2, generator=torch.Generator().manual_seed(0))
    full = diversity(cf, x, 3)
    assert full["pairs"] == 6  # two inputs, three pairs each
    keep = torch.tensor([True, True, False, False, False, True])
    assert diversity(cf, x, 3, keep)["pairs"] == 1
    none = diversity(cf, x, 3, torch.zeros(6, dtype=torch.bool))
    assert none["pairs"] == 0 and math.isnan(none["l1"])


def test_bad_groups_are_named() -> None:
    x = torch.zeros(5, 1, 1, 1)
    with pytest.raises(ValueError, match="whole number of groups of 2"):
        diversity(x, x, 2)
    with pytest.raises(ValueError, match="copies must be an integer >= 2"):
        diversity(x, x, 1)
