"""Choosing targets: one class, the next class, a random other, or all others; for a
regressor, one value or a shift of each prediction."""

from __future__ import annotations

import math

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


TARGET_NAMES = ("next", "random", "all-others")
"""Target schedules by name (besides a class index)."""


def parse_targets(
    spec: str, labels: Tensor, num_classes: int, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """Rows and targets for a target ``spec`` given each input's current ``labels``.

    ``spec`` is a class index, ``next`` (label + 1 mod K), ``random`` (another class, seeded)
    or ``all-others`` (every other class: K - 1 rows per input).
    """
    check_target_spec(spec, num_classes)
    labels = labels.cpu()
    rows = torch.arange(len(labels))
    if spec == "all-others":
        return all_other_targets(labels, num_classes)
    if spec == "next":
        return rows, (labels + 1) % num_classes
    if spec == "random":
        return rows, random_other_targets(labels, num_classes, seed)
    return rows, torch.full((len(labels),), int(spec), dtype=torch.long)


def check_target_spec(spec: str, num_classes: int | None = None) -> None:
    """Refuse a target ``spec`` that is not a class index (in ``0 .. num_classes - 1`` when
    the count is known), ``next``, ``random`` or ``all-others``; cheap, so callers check it
    before loading models."""
    if spec in TARGET_NAMES:
        return
    classes = f"index 0-{num_classes - 1}" if num_classes else "index"
    try:
        target = int(spec)
    except ValueError:
        raise ValueError(
            f"unknown target {spec!r}: give a class {classes}, 'next', 'random' or 'all-others'"
        ) from None
    if target < 0 or (num_classes is not None and target >= num_classes):
        raise ValueError(
            f"target class {target} is outside "
            + (f"0-{num_classes - 1}" if num_classes else "the classes (0 or more)")
        )


def value_targets(
    predictions: Tensor, value: float | None = None, shift: float | None = None
) -> Tensor:
    """A regressor's targets: ``value`` for every input, or each prediction plus ``shift``
    (exactly one of the two; finite)."""
    amount = value if value is not None else shift
    if amount is None or (value is not None and shift is not None):
        raise ValueError(
            "a regressor's CEs need a target value or a shift of its prediction: give "
            "exactly one of --target-value / --target-shift (target_value / target_shift)"
        )
    if not math.isfinite(float(amount)):
        raise ValueError(f"the target value or shift must be finite, got {amount!r}")
    base = predictions.detach().double().reshape(-1).cpu()
    if value is not None:
        return torch.full_like(base, float(amount))
    return base + float(amount)
