"""Image helpers: tiles, signed difference heat-maps, PNG data URIs (no torchvision)."""

from __future__ import annotations

import base64
import io

import numpy as np
import torch
from torch import Tensor


def to_uint8(image: Tensor) -> np.ndarray:
    """A ``[C, H, W]`` image in [0, 1] as an ``H x W`` (grey) or ``H x W x 3`` uint8 array."""
    if image.dim() != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"expected one image [C, H, W] with C = 1 or 3, got {tuple(image.shape)}")
    arr = (image.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    return arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)


def png_bytes(image: Tensor, scale: int = 1) -> bytes:
    """PNG encoding of a ``[C, H, W]`` image, enlarged ``scale`` times (nearest neighbour)."""
    from PIL import Image

    pil = Image.fromarray(to_uint8(image))
    if scale > 1:
        pil = pil.resize((pil.width * scale, pil.height * scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    pil.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def png_data_uri(image: Tensor, scale: int = 1) -> str:
    """``data:image/png;base64,...`` for inlining an image in HTML."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(image, scale)).decode("ascii")


def diff_heatmap(x: Tensor, x_cf: Tensor, limit: float | None = None) -> Tensor:
    """Signed difference ``x_cf - x`` as an RGB image ``[3, H, W]``.

    Red where the counterfactual adds intensity, blue where it removes it, white where
    nothing changed; colour saturates at ``limit`` (default: the largest absolute change).
    Channels are averaged first.
    """
    diff = (x_cf.float() - x.float()).mean(dim=0)
    scale = limit if limit is not None else float(diff.abs().max().clamp_min(1e-6))
    d = (diff / scale).clamp(-1, 1)
    pos, neg = d.clamp_min(0), (-d).clamp_min(0)
    return torch.stack([1 - neg, 1 - pos - neg, 1 - pos]).clamp(0, 1)


def tile(images: Tensor, ncol: int, pad: int = 1, pad_value: float = 1.0) -> Tensor:
    """Arrange ``[N, C, H, W]`` images in a grid with ``ncol`` columns: ``[C, H', W']``."""
    n, c, h, w = images.shape
    nrow = -(-n // ncol)
    out = torch.full((c, nrow * (h + pad) + pad, ncol * (w + pad) + pad), pad_value)
    for i in range(n):
        r, k = divmod(i, ncol)
        top, left = pad + r * (h + pad), pad + k * (w + pad)
        out[:, top : top + h, left : left + w] = images[i].detach().float().cpu()
    return out
