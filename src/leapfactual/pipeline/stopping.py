"""Early stopping of a stage: the held-out part of its data, its held-out loss, its record.

With ``patience`` > 0 a stage holds out a seeded tenth of its training samples
(:func:`holdout_split`), trains on the rest, and stops on a plateau of their loss
(:class:`~leapfactual.training.Plateau`), never before the epochs that ``min_steps`` asks for.
Every stage records where it stopped and why (:func:`stop_record`), early stopping or not.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from leapfactual.pipeline.settings import (
    ClassifierSettings,
    FlowSettings,
    VAESettings,
    epochs_for,
)
from leapfactual.training import Plateau

HOLDOUT = 0.1
"""The share of a stage's training samples held out for early stopping."""


StageSettings = VAESettings | ClassifierSettings | FlowSettings
"""The settings of a stage that can stop early."""


def holdout_split(n: int, seed: int) -> tuple[Tensor, Tensor]:
    """Seeded ``(train, held_out)`` indices of ``n`` samples, a tenth held out (at least one,
    and at least one left to train on)."""
    if n < 2:
        raise ValueError(
            f"early stopping holds out part of the training data, and there are {n} samples; "
            "set patience = 0 or use more data"
        )
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    k = min(max(1, round(HOLDOUT * n)), n - 1)
    return order[k:], order[:k]


def held_out_loss(
    model: nn.Module, loss: Callable[[Sequence[Tensor]], Tensor], data: Sequence[Tensor]
) -> Callable[[], float]:
    """``() -> float``: the sample-weighted mean of ``loss`` over ``data`` in batches of 512,
    on ``model``'s device, without gradients."""

    def evaluate() -> float:
        device = next(model.parameters()).device
        n, total = len(data[0]), 0.0
        with torch.no_grad():
            for i in range(0, n, 512):
                part = [t[i : i + 512].to(device) for t in data]
                total += float(loss(part)) * len(part[0])
        return total / n

    return evaluate


def plateau_for(
    settings: StageSettings,
    n_train: int,
    evaluate: Callable[[], float],
    checkpoint: str | os.PathLike[str] | None,
) -> Plateau | None:
    """The stage's :class:`~leapfactual.training.Plateau` (None when ``patience`` is 0): at
    most ``settings.epochs_for(n_train)`` epochs, at least those ``min_steps`` needs."""
    if settings.patience == 0:
        return None
    return Plateau(
        evaluate,
        settings.patience,
        settings.min_improvement,
        min_epochs=epochs_for(1, settings.batch_size, settings.min_steps, n_train),
        max_epochs=settings.epochs_for(n_train),
        checkpoint=checkpoint,
    )


def stop_record(
    settings: StageSettings, n_train: int, plateau: Plateau | None, record: dict[str, Any] | None
) -> None:
    """Fill ``record`` (when given) with where the stage stopped and why: the plateau's
    record, or the fixed epoch count; ``steps``: the optimiser steps taken."""
    if record is None:
        return
    if plateau is None:
        epochs = settings.epochs_for(n_train)
        record.update(
            epochs=epochs, max_epochs=epochs, reason="fixed number of epochs (patience = 0)"
        )
    else:
        record.update(plateau.record)
    record["steps"] = record["epochs"] * math.ceil(n_train / settings.batch_size)
