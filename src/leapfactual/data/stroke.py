"""Digits with a stroke thickness as their scalar label: a regression task with true
counterfactuals.

Each base digit ``i`` is set to a thickness ``t_i`` drawn uniformly from ``span`` (seeded)
by the Morpho-MNIST intervention ``do(thickness = t_i)``
(:func:`leapfactual.morpho.set_thickness`); ``t_i`` is its value (the digit keeps its class
label). The **true counterfactual** of image ``i`` for "thickness ``t``" is the same base
digit under ``do(thickness = t)``: only the stroke changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from leapfactual.data.dataset import Dataset
from leapfactual.data.thickness import intervene

SPAN = (1.5, 4.5)
"""Thicknesses (pixels) the digits are set to."""


@dataclass(frozen=True, eq=False)
class StrokeTask:
    """The intervened digits (``dataset``, values = their thickness) and what made them."""

    dataset: Dataset
    base: Tensor  # [N, 1, H, W] the digits before the intervention
    span: tuple[float, float]

    def true_counterfactual(self, indices: Tensor, thickness: Tensor) -> Tensor:
        """The digits at ``indices`` set to ``thickness`` (one per index, in pixels)."""
        index = torch.as_tensor(indices).long()
        return intervene(self.base[index], torch.as_tensor(thickness).double(), False)


def stroke_task(
    base: Dataset, seed: int = 0, span: tuple[float, float] = SPAN, progress: bool = False
) -> StrokeTask:
    """Set every digit of ``base`` to a seeded uniform thickness in ``span`` (about 8 ms per
    digit on one core)."""
    low, high = span
    if base.shape[0] != 1:
        raise ValueError(f"the stroke task needs grey digits (1 channel), got {base.shape}")
    if not 0 < low < high:
        raise ValueError(f"span must satisfy 0 < low < high, got {span}")
    gen = torch.Generator().manual_seed(seed)
    thickness = low + (high - low) * torch.rand(len(base), generator=gen, dtype=torch.float64)
    images = intervene(base.images, thickness, progress)
    name = f"stroke-thickness({base.name})"
    data = Dataset(images, base.labels, list(base.class_names), name, thickness.float())
    return StrokeTask(data, base.images, span)


def load_stroke_thickness(base: Dataset, seed: int = 0) -> Dataset:
    """The stroke-thickness dataset on ``base``; as a registered dataset,
    ``stroke-thickness[:BASE]`` (the registry loads ``BASE``)."""
    return stroke_task(base, seed).dataset


__all__ = ["SPAN", "StrokeTask", "load_stroke_thickness", "stroke_task"]
