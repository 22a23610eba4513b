"""Medial axis of a batch of binary images, vectorised across the batch.

The medial axis is the ridge of the distance transform. Foreground pixels are visited once,
in order of increasing distance to the background, then increasing "cornerness" (background
pixels among the 3x3 neighbours), then a seeded random tie-breaker; a visited pixel is removed
unless removing it would change the number of 8-connected components of its 3x3 neighbourhood
or it has at most one foreground neighbour (an end point). This is the algorithm of
``skimage.morphology.medial_axis`` and gives its result with ``rng=0`` for images whose border
is background; here the outside of an image counts as background.

Images are independent, so the k-th visit of every image in the batch happens in one numpy
step: the loop runs over pixel ranks, not over images, and an image's skeleton never depends
on the rest of its batch.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from scipy import ndimage as ndi

#: Bit of each of the 8 neighbours in a 3x3 pattern code (row-major: the row above, left,
#: right, the row below); the centre is bit 4 (16).
_BITS = np.array([1, 2, 4, 8, 32, 64, 128, 256], dtype=np.int32)
_CENTRE = 16
_EIGHT = np.ones((3, 3), dtype=bool)


def _pattern(code: int) -> np.ndarray:
    return ((code >> np.arange(9)) & 1).astype(bool).reshape(3, 3)


@cache
def keep_table() -> np.ndarray:
    """``table[code]`` = 1 if the centre of 3x3 pattern ``code`` (bit i = pixel i in row-major
    order) must stay: it is foreground and removing it changes the number of 8-connected
    components, or it has at most one foreground neighbour."""
    table = np.zeros(512, dtype=np.uint8)
    for code in range(512):
        pattern = _pattern(code)
        if not pattern[1, 1]:
            continue
        without = pattern.copy()
        without[1, 1] = False
        changes = ndi.label(pattern, _EIGHT)[1] != ndi.label(without, _EIGHT)[1]
        table[code] = changes or pattern.sum() < 3
    return table


def distance_transform(binary: np.ndarray) -> np.ndarray:
    """Euclidean distance of every foreground pixel to the nearest background pixel (0 on the
    background), per image of a ``[B, H, W]`` batch (float32); outside the image counts as
    background. Each image is cropped to its foreground's bounding box first."""
    binary = np.asarray(binary, dtype=bool)
    out = np.zeros(binary.shape, dtype=np.float32)
    rows, cols = np.asarray(binary.any(axis=2)), np.asarray(binary.any(axis=1))
    for i in np.flatnonzero(rows.any(axis=1)):
        r = np.flatnonzero(rows[i])
        c = np.flatnonzero(cols[i])
        crop = np.pad(binary[i, r[0] : r[-1] + 1, c[0] : c[-1] + 1], 1)
        out[i, r[0] : r[-1] + 1, c[0] : c[-1] + 1] = ndi.distance_transform_edt(crop)[1:-1, 1:-1]
    return out


def medial_axis(
    binary: np.ndarray, distance: np.ndarray | None = None, seed: int = 0
) -> np.ndarray:
    """Skeleton (bool ``[B, H, W]``) of each binary image in a ``[B, H, W]`` batch.

    ``distance`` is the image's :func:`distance_transform` when already computed; ``seed``
    seeds each image's tie-breaking permutation (as ``rng`` in scikit-image).
    """
    binary = np.asarray(binary, dtype=bool)
    if binary.ndim != 3:
        raise ValueError(f"expected a [B, H, W] batch of binary images, got {binary.shape}")
    if distance is None:
        distance = distance_transform(binary)
    b, h, w = binary.shape
    hp, wp = h + 2, w + 2
    result = np.pad(binary, ((0, 0), (1, 1), (1, 1))).view(np.uint8)
    flat = result.reshape(-1)
    pixels = np.flatnonzero(flat)
    if pixels.size == 0:
        return np.zeros_like(binary)
    image, rest = np.divmod(pixels, hp * wp)
    row, col = np.divmod(rest, wp)
    counts = np.bincount(image, minlength=b)

    # visiting order inside each image: distance, then cornerness, then the tie-breaker, packed
    # into one integer key (squared Euclidean distances are integers)
    neighbours = np.zeros((b, h, w), dtype=np.uint8)
    for dr in range(3):
        for dc in range(3):
            neighbours += result[:, dr : dr + h, dc : dc + w]
    cornerness = 9 - neighbours.reshape(-1)[(image * h + row - 1) * w + col - 1].astype(np.int64)
    dist = distance.reshape(-1)[(image * h + row - 1) * w + col - 1].astype(np.float64)
    tie_bits = int(h * w).bit_length()
    dist_bits = int(h * h + w * w).bit_length()
    if int(b).bit_length() + dist_bits + 4 + tie_bits > 62:
        raise ValueError(f"a batch of {b} images of {h}x{w} is too large; split it")
    key = np.rint(dist * dist).astype(np.int64)
    key = (key << 4 | cornerness) << tie_bits | _tiebreakers(counts, seed)
    key |= image << (dist_bits + 4 + tie_bits)
    order = np.argsort(key)
    starts = np.cumsum(counts) - counts
    rank = np.arange(pixels.size) - starts[image[order]]

    # one column per image, longest first, so the images still visiting at rank k are a prefix
    by_size = np.argsort(-counts, kind="stable")
    column_of = np.empty(b, dtype=np.int64)
    column_of[by_size] = np.arange(b)
    longest = int(counts.max())
    visits = np.zeros((longest, b), dtype=np.int64)
    visits[rank, column_of[image[order]]] = pixels[order]
    sizes = counts[by_size]
    active = b - np.searchsorted(sizes[::-1], np.arange(longest), side="right")

    offsets = np.array([-wp - 1, -wp, -wp + 1, -1, 1, wp - 1, wp, wp + 1], dtype=np.int64)
    table = keep_table()
    for k in range(longest):
        at = visits[k, : active[k]]
        code = flat[at[:, None] + offsets] @ _BITS
        flat[at] = table[code + _CENTRE]
    return result[:, 1:-1, 1:-1].astype(bool)


def _tiebreakers(counts: np.ndarray, seed: int) -> np.ndarray:
    """For each image with ``n`` foreground pixels, ``default_rng(seed).permutation(n)``
    (scikit-image's tie-breaker), concatenated."""
    generator = np.random.Generator(np.random.PCG64(seed))
    start = generator.bit_generator.state
    parts = []
    for n in counts:
        if n:
            generator.bit_generator.state = start
            parts.append(generator.permutation(int(n)))
    return np.concatenate(parts)


def skeleton_length(skeleton: np.ndarray) -> np.ndarray:
    """Length of each skeleton in a ``[B, H, W]`` batch: the number of 8-connected neighbour
    pairs, weighting diagonal pairs by sqrt 2 (pixel units of the skeleton's grid)."""
    b, h, w = skeleton.shape
    padded = np.pad(np.asarray(skeleton, dtype=bool), ((0, 0), (1, 1), (1, 1)))
    flat = padded.reshape(-1)
    at = np.flatnonzero(flat)
    wp = w + 2
    # each pair once: the right neighbour and the three below
    links = flat[at + 1] + flat[at + wp].astype(np.float64)
    links += np.sqrt(2.0) * (flat[at + wp - 1].astype(np.float64) + flat[at + wp + 1])
    return np.bincount(at // ((h + 2) * wp), weights=links, minlength=b)
