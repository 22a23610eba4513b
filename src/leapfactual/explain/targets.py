"""Choosing target classes: one class, the next class, a random other, or all others."""

from __future__ import annotations

import torch
from torch import Tensor


def all_other_targets(labels: Tensor, num_classes: int) -> tuple[Tensor, Tensor]:
    """Row indices and targets to explain every input toward every class but its own.

    The K - 1 rows of each input are consecutive, targets in increasing order.
    """
    rows, targets = [], []
    for i, y in enumerate(labels.tolist()):
        for t in range(num_classes):
            if t != y:
                rows.append(i)
                targets.append(t)
    return torch.tensor(rows, dtype=torch.long), torch.tensor(targets, dtype=torch.long)


def random_other_targets(labels: Tensor, num_classes: int, seed: int) -> Tensor:
    """A uniformly drawn class other than each label (seeded)."""
    gen = torch.Generator().manual_seed(seed)
    shift = torch.randint(1, num_classes, labels.shape, generator=gen)
    return (labels.cpu() + shift) % num_classes


def parse_targets(
    spec: str, labels: Tensor, num_classes: int, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """Rows and targets for a target ``spec`` given each input's current ``labels``.

    ``spec`` is a class index, ``next`` (label + 1 mod K), ``random`` (another class, seeded)
    or ``all-others`` (every other class: K - 1 rows per input).
    """
    labels = labels.cpu()
    rows = torch.arange(len(labels))
    if spec == "all-others":
        return all_other_targets(labels, num_classes)
    if spec == "next":
        return rows, (labels + 1) % num_classes
    if spec == "random":
        return rows, random_other_targets(labels, num_classes, seed)
    try:
        target = int(spec)
    except ValueError:
        raise ValueError(
            f"unknown target {spec!r}: give a class index 0-{num_classes - 1}, 'next', "
            "'random' or 'all-others'"
        ) from None
    if not 0 <= target < num_classes:
        raise ValueError(f"target class {target} is outside 0-{num_classes - 1}")
    return rows, torch.full((len(labels),), target, dtype=torch.long)
