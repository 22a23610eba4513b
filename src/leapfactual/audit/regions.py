"""Splitting a counterfactual's change ``x' - x`` into regions that can be reverted one by one.

The per-pixel change is ``|x' - x|`` summed over channels (the L1 change of a pixel, the
importance ranking of COUT). A pixel counts as *changed* when its change exceeds
``threshold`` times the largest change in its image (relative, so the rule does not depend
on the image scale; the default 0.1 drops faint decoder noise around a [0, 1] edit) and is
above 0 (an image its CE left as it was has no regions). Changed pixels are grouped either
into 8-connected components (``"components"``, diagonal strokes stay one region) or by the
cell of a ``grid`` x ``grid`` partition they fall in (``"grid"``, only cells holding changed
pixels count). Regions are numbered 1..R by decreasing total change (ties: scan order);
0 marks unchanged pixels.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from scipy import ndimage
from torch import Tensor

from leapfactual.explain import check_inputs

Mode = Literal["components", "grid"]

DEFAULT_THRESHOLD = 0.1
"""A pixel is changed when its change exceeds this share of its image's largest change."""

EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def check_pair(x: Tensor, x_cf: Tensor) -> None:
    """Raise a ``ValueError`` unless ``x`` and ``x_cf`` are finite images of one shape."""
    for name, value in (("x", x), ("x_cf", x_cf)):
        try:
            check_inputs(value)
        except ValueError as err:
            raise ValueError(name + str(err).removeprefix("x")) from err
    if x.dim() != 4:
        raise ValueError(f"x must be images [B, C, H, W], got shape {tuple(x.shape)}")
    if x_cf.shape != x.shape:
        raise ValueError(
            f"x_cf has shape {tuple(x_cf.shape)} but x has {tuple(x.shape)}; give one "
            "counterfactual per input, of the input's shape"
        )


def pixel_change(x: Tensor, x_cf: Tensor) -> Tensor:
    """``|x' - x|`` summed over channels, ``[B, H, W]`` on CPU in the images' dtype."""
    return (x_cf.detach() - x.detach()).abs().sum(dim=1).cpu()


def changed_pixels(change: Tensor, threshold: float = DEFAULT_THRESHOLD) -> Tensor:
    """Pixels whose change exceeds ``threshold`` times their image's largest change, and 0."""
    if not 0 <= threshold < 1:
        raise ValueError(
            f"threshold is relative to each image's largest change; give 0 <= threshold < 1, "
            f"got {threshold}"
        )
    peak = change.flatten(1).amax(dim=1).view(-1, 1, 1)
    return (change > threshold * peak) & (change > 0)


def grid_cells(height: int, width: int, grid: int) -> Tensor:
    """Cell index ``[H, W]`` (row-major, 0..grid²-1) of a ``grid`` x ``grid`` partition; cell
    ``(i, j)`` covers rows ``[i*H // grid, (i+1)*H // grid)`` and likewise columns."""
    if grid < 1 or grid > min(height, width):
        raise ValueError(f"grid must lie in [1, {min(height, width)}] for {height}x{width} images")
    rows = torch.arange(height) * grid // height
    cols = torch.arange(width) * grid // width
    return rows[:, None] * grid + cols[None, :]


def _components(changed: Tensor) -> Tensor:
    """8-connected components of each image's changed pixels, labelled 1..n in scan order."""
    labels = [ndimage.label(m, structure=EIGHT_CONNECTED)[0] for m in changed.numpy()]
    return torch.from_numpy(np.stack(labels)).long()


def _by_mass(labels: Tensor, change: Tensor, max_regions: int | None) -> Tensor:
    """Relabel regions 1..R by decreasing total change; beyond ``max_regions``, merge the rest
    into region ``max_regions``."""
    batch, size = labels.shape[0], int(labels.max()) + 1
    flat = labels.flatten(1)
    mass = torch.zeros(batch, size, dtype=torch.float64)
    mass.scatter_add_(1, flat, change.flatten(1).double())
    present = torch.zeros(batch, size, dtype=torch.bool).scatter_(1, flat, True)
    mass = torch.where(present, mass, -1.0)[:, 1:]
    order = torch.sort(mass, dim=1, descending=True, stable=True).indices
    new = torch.empty_like(order).scatter_(1, order, torch.arange(1, size).expand_as(order))
    if max_regions is not None:
        new = new.clamp_max(max_regions)
    table = torch.cat([torch.zeros(batch, 1, dtype=torch.long), new], dim=1)
    return table.gather(1, flat).view_as(labels)


def change_regions(
    x: Tensor,
    x_cf: Tensor,
    mode: Mode = "components",
    threshold: float = DEFAULT_THRESHOLD,
    grid: int = 4,
    max_regions: int | None = None,
) -> Tensor:
    """Regions of the change ``x' - x``: ``[B, H, W]`` int64, 0 = unchanged, 1..R by
    decreasing total change (see the module docstring); ``max_regions`` caps R by merging
    the smallest regions into the last one. On CPU."""
    check_pair(x, x_cf)
    if max_regions is not None and max_regions < 1:
        raise ValueError(f"max_regions must be positive or None, got {max_regions}")
    change = pixel_change(x, x_cf)
    changed = changed_pixels(change, threshold)
    if mode == "components":
        labels = _components(changed)
    elif mode == "grid":
        cells = grid_cells(x.shape[2], x.shape[3], grid) + 1
        labels = torch.where(changed, cells, 0)
    else:
        raise ValueError(f"unknown region mode {mode!r}; choose 'components' or 'grid'")
    return _by_mass(labels, change, max_regions)


__all__ = [
    "DEFAULT_THRESHOLD",
    "Mode",
    "change_regions",
    "changed_pixels",
    "check_pair",
    "grid_cells",
    "pixel_change",
]
