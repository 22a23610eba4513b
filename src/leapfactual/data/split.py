"""Seeded, stratified splits: every part keeps the class proportions of the whole."""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import accumulate

import torch
from torch import Tensor

from leapfactual.data.dataset import Dataset

_TOLERANCE = 1e-9


def stratified_split(labels: Tensor, fractions: Sequence[float], seed: int = 0) -> list[Tensor]:
    """Split the indices of ``labels`` into parts of the given fractions, class by class.

    Within each class the indices are shuffled with ``seed`` and cut at the rounded cumulative
    fractions, so each part holds about ``fraction`` of every class. Fractions may sum to less
    than 1 (the rest is left out). The same labels, fractions and seed always give the same
    parts; each part is returned shuffled (never in class order), as a CPU int64 tensor.
    """
    if not isinstance(labels, Tensor) or labels.dim() != 1 or labels.is_floating_point():
        raise ValueError("labels must be a 1-D integer tensor (e.g. dataset.labels)")
    parts = [float(f) for f in fractions]
    if not parts:
        raise ValueError("fractions is empty; give one fraction per part, e.g. [0.8, 0.2]")
    if any(not math.isfinite(f) or f < 0 for f in parts):
        raise ValueError(f"fractions must be finite and non-negative, got {parts}")
    if sum(parts) > 1 + _TOLERANCE:
        raise ValueError(f"fractions must sum to at most 1, got {parts} (sum {sum(parts):.6g})")
    cumulative = [min(c, 1.0) for c in accumulate(parts)]
    generator = torch.Generator().manual_seed(int(seed))
    labels = labels.cpu()
    chunks: list[list[Tensor]] = [[] for _ in parts]
    for cls in torch.unique(labels).tolist():
        members = (labels == cls).nonzero().flatten()
        members = members[torch.randperm(members.numel(), generator=generator)]
        n = members.numel()
        cuts = [0, *(math.floor(n * c + 0.5) for c in cumulative)]
        for k in range(len(parts)):
            chunks[k].append(members[cuts[k] : cuts[k + 1]])
    result = []
    for pieces in chunks:
        joined = torch.cat(pieces) if pieces else torch.empty(0, dtype=torch.long)
        result.append(joined[torch.randperm(joined.numel(), generator=generator)])
    return result


def train_test_split(
    dataset: Dataset, test_fraction: float = 0.2, seed: int = 0
) -> tuple[Dataset, Dataset]:
    """A stratified, seeded ``(train, test)`` split of ``dataset``; every image lands in one."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction}")
    train, test = stratified_split(dataset.labels, [1.0 - test_fraction, test_fraction], seed)
    return dataset.subset(train), dataset.subset(test)
