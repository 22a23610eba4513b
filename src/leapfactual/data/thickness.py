"""Thin vs thick digits: a task whose label is a morphometric, with true counterfactuals.

Each base digit ``i`` gets a class ``y_i`` (0 = thin, 1 = thick; half each, seeded) and a
position ``u_i`` in [0, 1) (seeded); its image is the intervention
``do(thickness = level(y_i, u_i))`` on the base digit
(:func:`leapfactual.morpho.set_thickness`), where ``level(0, u) = thin[0] + u * span`` and
``level(1, u) = thick[0] + u * span``. The **true counterfactual** of image ``i`` toward the
other class is the same base digit under ``do(thickness = level(1 - y_i, u_i))``: the same
digit at the same place within its class, with only the stroke thickness changed. The label
obeys a known rule, measured thickness above the midpoint between the two ranges
(:class:`ThicknessRule`), which serves as the truth when a classifier of these images is
explained.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from leapfactual._progress import tqdm
from leapfactual.data.dataset import Dataset
from leapfactual.morpho import measure, set_thickness

CLASSES = ("thin", "thick")
CHUNK = 256


@dataclass(frozen=True)
class ThicknessLevels:
    """The two thickness ranges (pixels of the original image), of equal length, apart."""

    thin: tuple[float, float] = (1.5, 2.25)
    thick: tuple[float, float] = (3.25, 4.0)

    def __post_init__(self) -> None:
        (a, b), (c, d) = self.thin, self.thick
        if not 0 < a < b < c < d:
            raise ValueError(
                f"need 0 < thin[0] < thin[1] < thick[0] < thick[1], got thin={self.thin}, "
                f"thick={self.thick}"
            )
        if not math.isclose(b - a, d - c):
            raise ValueError(
                f"the ranges must be of equal length so that every position has a twin, got "
                f"{b - a:g} (thin) and {d - c:g} (thick)"
            )

    @property
    def boundary(self) -> float:
        """The thickness that separates the classes: the middle of the gap."""
        return (self.thin[1] + self.thick[0]) / 2.0

    def level(self, labels: Tensor, position: Tensor) -> Tensor:
        """Thickness of class ``labels`` (0 thin, 1 thick) at ``position`` in [0, 1)."""
        start = torch.where(labels == 1, self.thick[0], self.thin[0]).to(torch.float64)
        return start + position.to(torch.float64) * (self.thin[1] - self.thin[0])


class ThicknessRule:
    """The true rule as a classifier: logits ``[B, 2]`` (thin, thick) from the measured
    thickness ``t``, ``(b - t, t - b) * sharpness`` with ``b`` the boundary. An empty image
    (no thickness) is thin. A black box: no gradients flow through it."""

    def __init__(self, boundary: float, sharpness: float = 4.0) -> None:
        if not boundary > 0 or not sharpness > 0:
            raise ValueError(f"boundary and sharpness must be positive: {boundary}, {sharpness}")
        self.boundary = boundary
        self.sharpness = sharpness

    def __call__(self, images: Tensor) -> Tensor:
        t = torch.as_tensor(measure(images.detach())["thickness"], dtype=torch.float64)
        margin = (torch.nan_to_num(t, nan=0.0) - self.boundary) * self.sharpness
        return torch.stack([-margin, margin], 1).to(device=images.device, dtype=images.dtype)

    def __repr__(self) -> str:
        return f"ThicknessRule(boundary={self.boundary:g}, sharpness={self.sharpness:g})"


@dataclass(frozen=True, eq=False)
class ThicknessTask:
    """The intervened digits (``dataset``), what made them, and their true counterfactuals."""

    dataset: Dataset
    base: Tensor  # [N, 1, H, W] the digits before the intervention
    position: Tensor  # [N] float64 in [0, 1)
    levels: ThicknessLevels

    def thickness(self, indices: Tensor | None = None, flip: bool = False) -> Tensor:
        """The thickness each image was set to (``flip``: that of its true counterfactual)."""
        labels, position = self.dataset.labels, self.position
        if indices is not None:
            labels, position = labels[indices], position[indices]
        return self.levels.level(1 - labels if flip else labels, position)

    def true_counterfactual(self, indices: Tensor, progress: bool = False) -> Tensor:
        """The true counterfactual of each image at ``indices``, toward the other class."""
        index = torch.as_tensor(indices).long()
        return intervene(self.base[index], self.thickness(index, flip=True), progress)

    def rule(self) -> ThicknessRule:
        """The labelling rule, as a classifier."""
        return ThicknessRule(self.levels.boundary)


def thickness_task(
    base: Dataset,
    seed: int = 0,
    levels: ThicknessLevels = ThicknessLevels(),
    progress: bool = False,
) -> ThicknessTask:
    """Build the thin-vs-thick task on the digits of ``base`` (their own labels are dropped).

    About 8 ms per digit on one CPU core (``set_thickness`` measures each result).
    """
    if base.shape[0] != 1:
        raise ValueError(f"the thickness task needs grey digits (1 channel), got {base.shape}")
    if len(base) < 2:
        raise ValueError(f"the thickness task needs at least 2 digits, got {len(base)}")
    gen = torch.Generator().manual_seed(seed)
    labels = (torch.randperm(len(base), generator=gen) % 2).long()
    position = torch.rand(len(base), generator=gen, dtype=torch.float64)
    images = intervene(base.images, levels.level(labels, position), progress)
    name = f"thickness({base.name})"
    dataset = Dataset(images, labels, list(CLASSES), name)
    return ThicknessTask(dataset, base.images, position, levels)


def load_thickness_task(base: Dataset, seed: int = 0, limit: int | None = None) -> ThicknessTask:
    """:func:`thickness_task` on ``base``, or on its first ``limit`` digits of a seeded
    shuffle."""
    if limit is not None and limit < 2:
        raise ValueError(f"limit must be at least 2, got {limit}")
    if limit is not None and limit < len(base):
        order = torch.randperm(len(base), generator=torch.Generator().manual_seed(seed))
        base = base.subset(order[:limit])
    return thickness_task(base, seed)


def load_thickness(base: Dataset, seed: int = 0, limit: int | None = None) -> Dataset:
    """The thin-vs-thick digits of :func:`load_thickness_task`; as a registered dataset,
    ``thickness[:BASE]`` (the registry loads ``BASE``)."""
    return load_thickness_task(base, seed, limit).dataset


def intervene(images: Tensor, thickness: Tensor, progress: bool) -> Tensor:
    """``set_thickness`` of ``images`` to ``thickness`` (one each), in chunks."""
    out = torch.empty_like(images)
    starts = range(0, len(images), CHUNK)
    for start in tqdm(starts, desc="set thickness", unit="chunk", disable=not progress):
        part = slice(start, start + CHUNK)
        out[part] = set_thickness(images[part], np.asarray(thickness[part]))
    return out


__all__ = [
    "CLASSES",
    "ThicknessLevels",
    "ThicknessRule",
    "ThicknessTask",
    "load_thickness",
    "load_thickness_task",
    "thickness_task",
]
