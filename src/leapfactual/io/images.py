"""Images as PNG bytes and data URIs, and image grids (Pillow, from the ``plots`` extra)."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
import torch
from torch import Tensor

from leapfactual._optional import require


def pillow() -> Any:
    """``PIL.Image``; needs the ``plots`` extra."""
    return require("PIL.Image", "plots", "writing images")


def to_uint8(image: Tensor) -> np.ndarray:
    """A ``[C, H, W]`` image in [0, 1] as an ``H x W`` (grey) or ``H x W x 3`` uint8 array."""
    if image.dim() != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"expected one image [C, H, W] with C = 1 or 3, got {tuple(image.shape)}")
    arr = (image.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    return arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)


def encoded(pil: Any, format: str = "PNG", **options: Any) -> bytes:
    """A Pillow image saved in ``format`` (PNG optimised), as bytes."""
    buf = io.BytesIO()
    pil.save(buf, format=format, **({"optimize": True} if format == "PNG" else {}), **options)
    return buf.getvalue()


def data_uri(data: bytes, mime: str = "image/png") -> str:
    """``data:MIME;base64,...`` for inlining a file in HTML."""
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def png_bytes(image: Tensor, scale: int = 1) -> bytes:
    """PNG encoding of a ``[C, H, W]`` image, enlarged ``scale`` times (nearest neighbour)."""
    Image = pillow()
    pil = Image.fromarray(to_uint8(image))
    if scale > 1:
        pil = pil.resize((pil.width * scale, pil.height * scale), Image.Resampling.NEAREST)
    return encoded(pil)


def png_data_uri(image: Tensor, scale: int = 1) -> str:
    """``data:image/png;base64,...`` for inlining an image in HTML."""
    return data_uri(png_bytes(image, scale))


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
