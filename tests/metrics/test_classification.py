import math

import numpy as np
import pytest
import torch
from torch import nn

from leapfactual.metrics import auroc, oracle_validity, validity


def test_validity_counts_argmax_hits() -> None:
    probs = torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.5, 0.1, 0.4], [0.1, 0.1, 0.8]])
    assert validity(probs, torch.tensor([0, 1, 2, 2])) == pytest.approx(0.75)
    assert validity(probs, 0) == pytest.approx(0.5)
    assert validity(probs.numpy(), [0, 1, 0, 2]) == 1.0


def test_validity_rejects_mismatches() -> None:
    probs = torch.rand(4, 3)
    with pytest.raises(ValueError, match=r"\[B\] = \[4\]"):
        validity(probs, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        validity(probs, torch.tensor([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="class indices"):
        validity(probs, torch.zeros(4))
    with pytest.raises(ValueError, match=r"\[B, K\]"):
        validity(torch.rand(4), 0)


def test_auroc_perfect_reversed_and_chance() -> None:
    target = torch.tensor([0, 0, 1, 1, 2, 2])
    perfect = torch.eye(3)[target] * 0.8 + 0.1
    assert auroc(perfect, target) == 1.0
    assert auroc(1.0 - perfect, target) == 0.0
    assert auroc(torch.full((6, 3), 1 / 3), target) == 0.5  # ties count half


def test_auroc_matches_scikit_learn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    g = torch.Generator().manual_seed(0)
    target = torch.arange(200) % 5
    probs = (torch.randn(200, 5, generator=g) + 1.5 * torch.eye(5)[target]).softmax(dim=1)
    ref = metrics.roc_auc_score(target.numpy(), probs.numpy(), multi_class="ovr", average="macro")
    assert auroc(probs, target) == pytest.approx(ref, abs=1e-12)


def test_auroc_skips_classes_that_are_never_targets() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    g = torch.Generator().manual_seed(1)
    target = torch.tensor([0, 2, 3] * 20)  # class 1 never a target
    probs = torch.rand(60, 4, generator=g)
    ref = np.mean(
        [metrics.roc_auc_score((target == k).numpy(), probs[:, k].numpy()) for k in (0, 2, 3)]
    )
    assert auroc(probs, target) == pytest.approx(ref, abs=1e-12)
    assert math.isnan(auroc(probs, 2))  # one target class: no negatives, no ROC curve


class Rule(nn.Module):
    """Class = index of the brightest of 3 image thirds."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("unused", torch.zeros(1))
        self.calls: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(len(x))
        return x.flatten(1).reshape(len(x), 3, -1).mean(dim=2)


def test_oracle_validity_batches_without_gradients() -> None:
    x = torch.zeros(10, 1, 3, 3)
    for i in range(10):
        x[i, 0, i % 3] = 1.0
    x.requires_grad_(True)
    oracle = Rule()
    target = torch.arange(10) % 3
    target[:3] = (target[:3] + 1) % 3  # three CEs the oracle disagrees with
    assert oracle_validity(oracle, x, target, batch_size=4) == pytest.approx(0.7)
    assert oracle.calls == [4, 4, 2]
    assert oracle_validity(lambda t: oracle(t), x.detach().numpy(), target) == pytest.approx(0.7)


def test_oracle_must_return_scores() -> None:
    with pytest.raises(ValueError, match=r"\[B, K\]"):
        oracle_validity(lambda t: t.sum(), torch.rand(3, 4), 0)
