"""Morpho-MNIST measurements of grey digits (Castro et al. 2019), batched.

Each image in [0, 1] is upsampled ``scale`` times (bicubic) and binarised at ``threshold``;
the skeleton is the medial axis of the binary shape. With ``s = scale`` and every value
reported in pixels of the *original* image:

- ``area``: foreground pixels / s^2.
- ``length``: skeleton length (8-neighbour links, diagonals sqrt 2) / s.
- ``thickness``: 2 * mean over skeleton pixels of the distance to the background / s.
- ``slant``: ``arctan(-mu11 / mu02)`` in radians, from the central moments of the binary
  shape with x to the right and y (rows) down. **Positive = leaning right** (the top is to
  the right of the bottom, like ``/``); a vertical stroke has slant 0.
- ``width``, ``height``: size of the slanted bounding box (the parallelogram sheared by the
  slant): the spread between the ``bound_frac / 2`` and ``1 - bound_frac / 2`` quantiles of the
  shape's pixels along the de-sheared x axis (``x + tan(slant) * (y - y_mean)``) and along y.
  A drawn ``w x h`` rectangle measures about ``(1 - bound_frac) * w`` by ``(1 - bound_frac) * h``.

Castro et al. take moments and bounding box from the grey upsampled image; the binary shape
used here makes every measurement describe the same shape (the one the perturbations edit)
and keeps a drawn bar's width free of interpolation blur.

An empty image (no pixel at or above ``threshold``) has area 0 and length 0 and NaN for the
others; a shape with no vertical extent in its moments has NaN slant, width and height.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from leapfactual.morpho._images import as_batch, upscale
from leapfactual.morpho.skeleton import distance_transform, medial_axis, skeleton_length

MEASUREMENTS: tuple[str, ...] = ("area", "length", "thickness", "slant", "width", "height")


@dataclass
class Analysis:
    """A batch on the fine grid: binary shape, distance map and skeleton, all
    ``[B, s*H, s*W]``, and the ``scale`` of the grid."""

    binary: np.ndarray
    distance: np.ndarray
    skeleton: np.ndarray
    scale: int

    @property
    def thickness(self) -> np.ndarray:
        """Mean stroke thickness per image, in original pixels (NaN when empty)."""
        total = np.einsum("bij,bij->b", self.distance, self.skeleton, dtype=np.float64)
        count = self.skeleton.sum(axis=(1, 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, 2.0 * total / count / self.scale, np.nan)


def analyse(batch: np.ndarray, threshold: float = 0.5, scale: int = 4) -> Analysis:
    """Upsample, binarise and skeletonise a ``[B, H, W]`` float batch in [0, 1]."""
    binary = upscale(batch, scale) >= threshold
    distance = distance_transform(binary)
    return Analysis(binary, distance, medial_axis(binary, distance), scale)


def _check(threshold: float, scale: int, bound_frac: float) -> None:
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must lie in (0, 1), got {threshold}")
    if not (isinstance(scale, int | np.integer) and scale >= 1):
        raise ValueError(f"scale must be a positive integer, got {scale!r}")
    if not 0.0 <= bound_frac < 1.0:
        raise ValueError(f"bound_frac must lie in [0, 1), got {bound_frac}")


def _spread(hist: np.ndarray, frac: float) -> np.ndarray:
    """Distance between the ``frac/2`` and ``1 - frac/2`` quantiles of each row of ``hist``
    (mass per unit bin, spread evenly inside a bin), in bins; NaN for an empty row."""
    cdf = np.cumsum(hist, axis=1)
    total = cdf[:, -1]
    rows = np.arange(len(hist))
    ends = []
    for q in (frac / 2.0, 1.0 - frac / 2.0):
        goal = q * total
        k = np.argmax(cdf >= (goal - 1e-9 * total)[:, None], axis=1)
        before = np.where(k > 0, cdf[rows, k - 1], 0.0)
        inside = hist[rows, k]
        with np.errstate(invalid="ignore", divide="ignore"):
            part = np.where(inside > 0, (goal - before) / inside, 0.0)
        ends.append(k + np.clip(part, 0.0, 1.0))
    return np.where(total > 0, ends[1] - ends[0], np.nan)


def _shape(binary: np.ndarray, frac: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Slant (radians), width and height (fine pixels) of each binary shape."""
    b, h, w = binary.shape
    at = np.flatnonzero(binary.reshape(-1))
    m = np.ones(len(at))
    image, rest = np.divmod(at, h * w)
    y, x = np.divmod(rest, w)
    y, x = y.astype(np.float64), x.astype(np.float64)

    def per_image(values: np.ndarray) -> np.ndarray:
        return np.bincount(image, weights=values, minlength=b)

    m00 = per_image(m)
    with np.errstate(invalid="ignore", divide="ignore"):
        my = per_image(m * y) / m00
        mx = per_image(m * x) / m00
        mu02 = per_image(m * y * y) / m00 - my**2
        mu11 = per_image(m * x * y) / m00 - mx * my
        shear = np.where(mu02 > 1e-12, mu11 / mu02, np.nan)
    slant = np.arctan(-shear)
    row_mass = np.bincount(image * h + y.astype(np.int64), weights=m, minlength=b * h)
    height = _spread(row_mass.reshape(b, h), frac)

    # de-sheared x, binned per image from its own leftmost pixel
    width = np.full(b, np.nan)
    ok = np.isfinite(shear)
    keep = ok[image]
    if keep.any():
        image, m, y, x = image[keep], m[keep], y[keep], x[keep]
        u = x - shear[image] * (y - my[image])
        left = np.full(b, np.inf)
        np.minimum.at(left, image, u)
        k = np.floor(u - left[image] + 0.5).astype(np.int64)
        bins = int(k.max()) + 1
        hist = np.bincount(image * bins + k, weights=m, minlength=b * bins)
        width[ok] = _spread(hist.reshape(b, bins)[ok], frac)
    return slant, width, height


def measure(
    images: Any,
    *,
    threshold: float = 0.5,
    scale: int = 4,
    bound_frac: float = 0.02,
    chunk_size: int = 256,
) -> dict[str, np.ndarray]:
    """Morpho-MNIST measurements of a batch of grey digits in [0, 1].

    Args:
        images: numpy array or tensor ``[H, W]``, ``[B, H, W]`` or ``[B, 1, H, W]``.
        threshold: binarisation level on the upsampled image.
        scale: upsampling factor.
        bound_frac: mass left outside the slanted bounding box (half on each side).
        chunk_size: images processed together (bounds memory, about 0.2 MB per image).

    Returns:
        ``{name: float64 array [B]}`` for the names in :data:`MEASUREMENTS`, in original
        pixels (area in pixels^2, slant in radians; see the module docstring).
    """
    _check(threshold, scale, bound_frac)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    batch, _ = as_batch(images)
    parts: list[dict[str, np.ndarray]] = []
    for start in range(0, len(batch), chunk_size):
        found = analyse(batch[start : start + chunk_size], threshold, scale)
        slant, width, height = _shape(found.binary, bound_frac)
        parts.append(
            {
                "area": found.binary.sum(axis=(1, 2)) / scale**2,
                "length": skeleton_length(found.skeleton) / scale,
                "thickness": found.thickness,
                "slant": slant,
                "width": width / scale,
                "height": height / scale,
            }
        )
    if not parts:
        return {name: np.zeros(0) for name in MEASUREMENTS}
    out = {name: np.concatenate([p[name] for p in parts]).astype(np.float64) for name in parts[0]}
    empty = out["area"] == 0
    for name in ("thickness", "slant", "width", "height"):
        out[name][empty] = np.nan
    return out
