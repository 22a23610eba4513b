"""Morpho-MNIST perturbations and interventions, batched.

Every operation works on the shape that :func:`~leapfactual.morpho.measure.measure` sees: the
digit upsampled ``scale`` times and binarised at ``threshold``. The edited binary shape is
averaged back over ``scale x scale`` blocks, so results are grey images of the input's size,
type, dtype and device, in [0, 1]. Empty images (nothing at or above ``threshold``) come back
unchanged.

Distances and radii are in pixels of the original image unless a name says otherwise.
Erosion and dilation use Euclidean disks of real radius: erosion by r keeps the pixels whose
distance to the background exceeds r, dilation by r adds those within r of the shape.

Random choices (where to swell, where to cut) are seeded per image: image ``i`` of a batch
draws from ``numpy.random.default_rng((seed, i))``, so a result never depends on the other
images and the same call gives the same images.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from leapfactual.morpho._images import as_batch, downscale
from leapfactual.morpho.measure import Analysis, _check, analyse

CHUNK = 512


def _edit(
    images: Any,
    edit: Callable[[Analysis, np.ndarray], np.ndarray],
    threshold: float,
    scale: int,
) -> Any:
    """Analyse ``images`` in chunks, let ``edit(analysis, index)`` return new fine binary shapes
    (``index``: position of each image in the batch), downscale, and restore the input's type.
    Empty images are returned unchanged."""
    _check(threshold, scale, 0.0)
    batch, restore = as_batch(images)
    out = batch.copy()
    for start in range(0, len(batch), CHUNK):
        chunk = batch[start : start + CHUNK]
        found = analyse(chunk, threshold, scale)
        index = np.arange(start, start + len(chunk))
        edited = downscale(edit(found, index).astype(np.float32), scale)
        empty = ~np.asarray(found.binary.any(axis=(1, 2)))
        out[start : start + len(chunk)] = np.where(empty[:, None, None], chunk, edited)
    return restore(out)


def _outside_distance(binary: np.ndarray) -> np.ndarray:
    """Per image, Euclidean distance of every pixel to the nearest shape pixel (inf if none)."""
    out = np.full(binary.shape, np.inf, dtype=np.float32)
    for i in np.flatnonzero(binary.any(axis=(1, 2))):
        out[i] = ndi.distance_transform_edt(~binary[i])
    return out


def _morph(found: Analysis, radius: np.ndarray) -> np.ndarray:
    """Coverage in [0, 1] of each shape eroded (negative ``radius``) or dilated (positive) by
    ``|radius|`` fine pixels, anti-aliased over one pixel so that it moves continuously with
    the radius; ``radius = 0`` gives the shape itself."""
    # signed distance to the outline, which runs half-way between shape and background pixels
    inside = found.distance - 0.5
    if (radius > 0).any():
        outside = 0.5 - _outside_distance(found.binary)
        signed = np.where(found.binary, inside, outside)
    else:
        signed = np.where(found.binary, inside, -0.5)
    return np.clip(signed + radius[:, None, None] + 0.5, 0.0, 1.0)


def thin(images: Any, amount: float = 0.7, *, threshold: float = 0.5, scale: int = 4) -> Any:
    """Thin each digit by ``amount`` of its own thickness T: erosion with a disk of radius
    ``amount * T / 2``, so the stroke ends up about ``(1 - amount) * T`` thick (0 <= amount < 1;
    strokes thinner than the cut vanish)."""
    if not 0.0 <= amount < 1.0:
        raise ValueError(f"thin needs 0 <= amount < 1, got {amount}")

    def edit(found: Analysis, _: np.ndarray) -> np.ndarray:
        thickness = np.nan_to_num(found.thickness)
        return _morph(found, -amount * thickness * found.scale / 2.0)

    return _edit(images, edit, threshold, scale)


def thicken(images: Any, amount: float = 1.0, *, threshold: float = 0.5, scale: int = 4) -> Any:
    """Thicken each digit by ``amount`` of its own thickness T: dilation with a disk of radius
    ``amount * T / 2``, so the stroke ends up about ``(1 + amount) * T`` thick (amount >= 0)."""
    if amount < 0.0:
        raise ValueError(f"thicken needs amount >= 0, got {amount}")

    def edit(found: Analysis, _: np.ndarray) -> np.ndarray:
        thickness = np.nan_to_num(found.thickness)
        return _morph(found, amount * thickness * found.scale / 2.0)

    return _edit(images, edit, threshold, scale)


def set_thickness(
    images: Any,
    thickness: float | np.ndarray,
    *,
    iterations: int = 4,
    threshold: float = 0.5,
    scale: int = 4,
) -> Any:
    """Intervention do(thickness = t): erode or dilate each digit so that its measured
    thickness becomes ``thickness`` (a number, or one per image), leaving everything else as
    the morphology allows. This gives ground-truth counterfactuals for thickness.

    The erosion/dilation radius starts at ``(t - T) / 2`` and is corrected ``iterations - 1``
    times (secant steps on the thickness measured on the result); the closest result is kept.
    On MNIST the median error is about 0.02 pixels and nine in ten digits land within 0.15;
    shapes whose loops fill up when dilated can miss by more. Targets much below 1 pixel can
    erase strokes.
    """
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    targets = np.asarray(thickness, dtype=np.float64)
    if not np.all(np.isfinite(targets)) or np.any(targets <= 0):
        raise ValueError(f"thickness targets must be positive and finite, got {thickness}")
    if targets.ndim > 1:
        raise ValueError(f"thickness must be a number or one per image, got shape {targets.shape}")
    if targets.ndim == 1 and len(targets) != len(as_batch(images)[0]):
        raise ValueError(
            f"got {len(targets)} thickness targets for {len(as_batch(images)[0])} images"
        )

    def edit(found: Analysis, index: np.ndarray) -> np.ndarray:
        goal = np.broadcast_to(targets, (len(index),)) if targets.ndim == 0 else targets[index]
        slope = 2.0 / found.scale  # thickness (pixels) per fine pixel of radius, to start
        start = np.nan_to_num(found.thickness)
        radius = (goal - start) / slope
        best = found.binary.astype(np.float32)
        best_error = np.abs(goal - start)
        last_radius, last_reached = np.zeros_like(radius), start
        for _ in range(iterations):
            shape = _morph(found, radius)
            got = analyse(downscale(shape, found.scale), threshold, scale).thickness
            error = np.abs(goal - got)
            better = np.isfinite(error) & (error < best_error)
            best[better] = shape[better]
            best_error = np.where(better, error, best_error)
            # secant step, its slope kept within a factor 2 of the nominal one
            with np.errstate(invalid="ignore", divide="ignore"):
                secant = (got - last_reached) / (radius - last_radius)
            secant = np.clip(np.nan_to_num(secant, nan=slope), slope / 2.0, slope * 2.0)
            last_radius, last_reached = radius, got
            radius = radius + np.nan_to_num(goal - got) / secant
        return best

    return _edit(images, edit, threshold, scale)


def _skeleton_points(found: Analysis, i: int) -> np.ndarray:
    return np.argwhere(found.skeleton[i]).astype(np.float64)


def swell(
    images: Any,
    strength: float = 3.0,
    seed: int = 0,
    *,
    radius: float = 7.0,
    threshold: float = 0.5,
    scale: int = 4,
) -> Any:
    """Local swelling: a radial warp around a random skeleton point c of each digit.

    A point at distance d < ``radius`` from c is drawn from distance
    ``d * (1 - a * (1 - d / radius)^2)``, ``a = 1 - 1 / strength``: magnification ``strength``
    at c, falling smoothly to none at ``radius``; the image outside the disk is unchanged.
    ``strength = 1`` is the identity.
    """
    if strength < 1.0:
        raise ValueError(f"swell needs strength >= 1, got {strength}")
    if radius <= 0:
        raise ValueError(f"swell needs a positive radius, got {radius}")
    squeeze = 1.0 - 1.0 / strength

    def edit(found: Analysis, index: np.ndarray) -> np.ndarray:
        out = found.binary.copy()
        h, w = out.shape[1:]
        grid = np.mgrid[0:h, 0:w].astype(np.float64)
        r = radius * found.scale
        for j, i in enumerate(index):
            points = _skeleton_points(found, j)
            if not len(points):
                continue
            rng = np.random.default_rng((seed, int(i)))
            centre = points[rng.integers(len(points))][:, None, None]
            offset = grid - centre
            d = np.hypot(offset[0], offset[1])
            factor = np.where(d < r, 1.0 - squeeze * (1.0 - np.minimum(d / r, 1.0)) ** 2, 1.0)
            source = centre + offset * factor
            warped = ndi.map_coordinates(found.binary[j].astype(np.float32), source, order=1)
            out[j] = warped >= 0.5
        return out

    return _edit(images, edit, threshold, scale)


def _end_points(skeleton: np.ndarray) -> np.ndarray:
    """Skeleton pixels with exactly one skeleton neighbour, as ``[N, 2]`` coordinates."""
    neighbours = ndi.correlate(
        skeleton.astype(np.uint8), np.ones((3, 3), np.uint8), mode="constant"
    )
    return np.argwhere(skeleton & (neighbours == 2)).astype(np.float64)


def fracture(
    images: Any,
    seed: int = 0,
    *,
    cuts: int = 1,
    width: float = 1.5,
    prune: float = 2.0,
    threshold: float = 0.5,
    scale: int = 4,
) -> Any:
    """Cut each digit's stroke ``cuts`` times, straight across, ``width`` pixels wide.

    A cut is centred on a random skeleton point at least ``prune`` pixels from the skeleton's
    end points (any skeleton point if none is that far), across the local stroke direction
    (principal axis of the skeleton within 2 pixels), and reaches the local half-thickness
    plus one pixel to each side.
    """
    if cuts < 1:
        raise ValueError(f"fracture needs cuts >= 1, got {cuts}")
    if width <= 0:
        raise ValueError(f"fracture needs a positive width, got {width}")

    def edit(found: Analysis, index: np.ndarray) -> np.ndarray:
        out = found.binary.copy()
        h, w = out.shape[1:]
        grid = np.mgrid[0:h, 0:w].astype(np.float64)
        s = found.scale
        for j, i in enumerate(index):
            points = _skeleton_points(found, j)
            if not len(points):
                continue
            rng = np.random.default_rng((seed, int(i)))
            ends = _end_points(found.skeleton[j])
            allowed = points
            if len(ends):
                gap = np.linalg.norm(points[:, None] - ends[None], axis=2).min(axis=1)
                if (gap >= prune * s).any():
                    allowed = points[gap >= prune * s]
            for _ in range(cuts):
                centre = allowed[rng.integers(len(allowed))]
                near = points[np.linalg.norm(points - centre, axis=1) <= 2.0 * s]
                spread = np.cov((near - centre).T) if len(near) > 2 else np.eye(2)
                tangent = np.linalg.eigh(spread)[1][:, -1]
                normal = np.array([-tangent[1], tangent[0]])
                offset = grid - centre[:, None, None]
                along = np.abs(np.tensordot(tangent, offset, axes=1))
                across = np.abs(np.tensordot(normal, offset, axes=1))
                reach = found.distance[j][tuple(centre.astype(int))] + s
                out[j] &= ~((along <= width * s / 2.0) & (across <= reach))
        return out

    return _edit(images, edit, threshold, scale)
