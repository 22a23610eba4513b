"""Shared geometry and input checks of the reference convolutional networks (no torch at
import: settings check sizes against :data:`MIN_SIDE` before it loads)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import Tensor

MIN_SIDE = 8
"""The smallest image side the residual VAE takes."""
MAX_SIDE = 7
"""Stride-2 stages continue while the side exceeds this: 28 -> 14 -> 7, 8 -> 4,
32 -> 16 -> 8 -> 4, 128 -> 64 -> 32 -> 16 -> 8 -> 4."""


def stage_sides(image_size: int) -> list[int]:
    """Spatial side after each stride-2 stage, starting with ``image_size`` itself."""
    if image_size < 1:
        raise ValueError(f"image_size must be positive; got {image_size}")
    sides = [image_size]
    while sides[-1] > MAX_SIDE:
        sides.append(sides[-1] // 2)
    return sides


def stage_channels(width: int, stages: int, cap: int = 8) -> list[int]:
    """Channels of each stage: ``width`` doubling per stage, at most ``cap * width``."""
    if width < 1:
        raise ValueError(f"width must be positive; got {width}")
    return [width * min(2**i, cap) for i in range(stages)]


def check_images(x: Tensor, channels: int, size: int, who: str) -> None:
    """Raise a specific error unless ``x`` is a float ``[B, channels, size, size]`` batch."""
    if x.dim() != 4 or tuple(x.shape[1:]) != (channels, size, size) or not x.is_floating_point():
        raise ValueError(
            f"{who} takes float images [B, {channels}, {size}, {size}] in [0, 1]; got shape "
            f"{tuple(x.shape)} and dtype {x.dtype}. Reshape flat or [B, H, W] images with "
            f"x.view(-1, {channels}, {size}, {size}) and convert uint8 with x.float() / 255."
        )


def check_matrix(x: Tensor, cols: int, rows: int | None, what: str) -> None:
    """Raise a specific error unless ``x`` is a float ``[rows, cols]`` matrix."""
    if x.dim() != 2 or x.shape[1] != cols or not x.is_floating_point():
        raise ValueError(
            f"{what} must be a float tensor [B, {cols}]; got shape {tuple(x.shape)} and "
            f"dtype {x.dtype}"
        )
    if rows is not None and x.shape[0] != rows:
        raise ValueError(f"{what} has {x.shape[0]} rows for a batch of {rows}")
