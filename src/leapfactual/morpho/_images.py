"""Batches in and out: any layout of grey digits to ``[B, H, W]`` float32, and back.

Morpho-MNIST works on a finer grid: :func:`upscale` resamples by an integer factor with
bicubic interpolation (pixels as areas, so a pixel becomes a ``scale x scale`` block and
shapes keep their place), :func:`downscale` averages the blocks back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

ImageBatch = TypeVar("ImageBatch", np.ndarray, Tensor)

#: A batch whose maximum exceeds this is taken for 0-255 data and refused.
MAX_VALUE = 2.0


def as_batch(images: Any) -> tuple[np.ndarray, Callable[[np.ndarray], Any]]:
    """``images`` as a ``[B, H, W]`` float32 array in [0, 1], plus a function that turns a
    result of the same shape back into the caller's type, dtype, device and layout.

    Accepts a numpy array or tensor of shape ``[H, W]``, ``[B, H, W]`` or ``[B, 1, H, W]``.
    Values are clipped to [0, 1]; a batch with values above 2 (0-255 data) is refused.
    """
    is_tensor = isinstance(images, Tensor)
    if is_tensor:
        device, dtype = images.device, images.dtype
        array = images.detach().to("cpu", torch.float32).numpy()
    else:
        array = np.asarray(images)
        dtype = array.dtype
    shape = array.shape
    if array.ndim == 2:
        batch = array[None]
    elif array.ndim == 3:
        batch = array
    elif array.ndim == 4 and shape[1] == 1:
        batch = array[:, 0]
    else:
        raise ValueError(
            f"expected grey images [H, W], [B, H, W] or [B, 1, H, W], got shape {shape}"
        )
    batch = np.asarray(batch, dtype=np.float32)
    if batch.size and np.nanmax(batch) > MAX_VALUE:
        raise ValueError(
            f"images must lie in [0, 1]; the largest value is {np.nanmax(batch):g} "
            "(divide 0-255 images by 255)"
        )
    if batch.size and np.isnan(batch).any():
        raise ValueError("images contain NaN")
    batch = np.clip(batch, 0.0, 1.0)

    def restore(result: np.ndarray) -> Any:
        out = result.reshape(shape)
        if is_tensor:
            return torch.from_numpy(np.ascontiguousarray(out)).to(device, dtype)
        if np.issubdtype(dtype, np.floating):
            return out.astype(dtype, copy=False)
        return out

    return batch, restore


def upscale(batch: np.ndarray, scale: int) -> np.ndarray:
    """Bicubic ``scale``-fold upsampling of ``[B, H, W]``, clipped to [0, 1] (float32)."""
    if scale == 1:
        return batch.astype(np.float32, copy=True)
    x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))[:, None]
    up = F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)
    return up[:, 0].clamp_(0.0, 1.0).numpy()


def downscale(hires: np.ndarray, scale: int) -> np.ndarray:
    """Mean over ``scale x scale`` blocks: ``[B, sH, sW]`` -> ``[B, H, W]`` float32."""
    b, h, w = hires.shape
    if h % scale or w % scale:
        raise ValueError(f"a {h}x{w} image is not a multiple of the scale {scale}")
    blocks = hires.reshape(b, h // scale, scale, w // scale, scale).astype(np.float32)
    return blocks.mean(axis=(2, 4))
