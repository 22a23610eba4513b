"""Dim coloured shapes on a dark background: a synthetic colour data set made in code.

Four classes that depend on colour AND shape: ``red-circle``, ``red-square``, ``blue-circle``,
``blue-square`` (equally many of each, in a seeded random order). Nuisances, drawn per image:
brightness 0.2-0.5, a slight tint in the other channels (up to 20 % of the brightness),
position, size (a square has the area of the circle it replaces, so area tells nothing),
rotation of the square, and a grey background level 0-0.06. Edges are anti-aliased (one-pixel
ramp); there is no pixel noise. Pixel values therefore lie in [0, 0.5].
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

from leapfactual.data.dataset import Dataset

SHAPE_CLASSES: tuple[str, ...] = ("red-circle", "red-square", "blue-circle", "blue-square")
"""Class names; label ``k`` is colour ``k // 2`` (red, blue) and shape ``k % 2`` (circle,
square)."""

MIN_SIDE = 8


def colour_shapes(n: int, size: int = 32, seed: int = 0) -> Dataset:
    """``n`` RGB images ``[n, 3, size, size]`` of one dim red/blue circle/square each.

    The same ``(n, size, seed)`` gives the same images on any machine (NumPy's seeded
    generator, float64 arithmetic).
    """
    for option, value, low in (("n", n, 1), ("size", size, MIN_SIDE)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
            raise ValueError(f"{option} must be an integer >= {low}, got {value!r}")
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    n, size = int(n), int(size)
    rng = np.random.default_rng(int(seed))
    labels = rng.permutation(np.arange(n) % len(SHAPE_CLASSES))
    red, square = labels // 2 == 0, labels % 2 == 1
    brightness = rng.uniform(0.2, 0.5, n)
    tint = rng.uniform(0.0, 0.2, (n, 2))
    background = rng.uniform(0.0, 0.06, n)
    radius = rng.uniform(0.16, 0.28, n) * size  # of the circle; squares get the same area
    half = radius * math.sqrt(math.pi) / 2
    angle = rng.uniform(0.0, math.pi / 2, n)
    reach = np.where(square, half * math.sqrt(2), radius) + 1.0  # keeps the shape inside
    centre = rng.uniform(reach[:, None], size - reach[:, None], (n, 2))

    grid = np.arange(size) + 0.5
    dy = grid[None, :, None] - centre[:, 0, None, None]  # [n, size, 1]
    dx = grid[None, None, :] - centre[:, 1, None, None]  # [n, 1, size]
    cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    box = np.maximum(np.abs(cos * dx + sin * dy), np.abs(cos * dy - sin * dx))
    inside = np.where(
        square[:, None, None], half[:, None, None] - box, radius[:, None, None] - np.hypot(dx, dy)
    )
    mask = np.clip(inside + 0.5, 0.0, 1.0)[:, None]  # [n, 1, size, size]

    colour = np.empty((n, 3))
    colour[:, 0] = np.where(red, 1.0, tint[:, 0])
    colour[:, 1] = tint[:, 1]
    colour[:, 2] = np.where(red, tint[:, 0], 1.0)
    colour *= brightness[:, None]
    bg = background[:, None, None, None]
    images = bg + (colour[:, :, None, None] - bg) * mask
    return Dataset(
        torch.from_numpy(images.astype(np.float32)),
        torch.from_numpy(labels.astype(np.int64)),
        list(SHAPE_CLASSES),
        "colour-shapes",
    )
