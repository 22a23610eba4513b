"""Report image helpers: animated paths, thumbnails, signed difference heat-maps (PNG
encoding and grids live in :mod:`leapfactual.io.images`)."""

from __future__ import annotations

import torch
from torch import Tensor

from leapfactual.io import data_uri, encoded, pillow, tile, to_uint8


def gif_data_uri(frames: Tensor, scale: int = 1, ms: int = 180, hold: int = 1200) -> str:
    """An animated GIF (looping; the last frame held ``hold`` ms) of ``[T, C, H, W]`` frames
    as a ``data:image/gif`` URI."""
    Image = pillow()

    pil = [Image.fromarray(to_uint8(f)) for f in frames]
    if scale > 1:
        size = (pil[0].width * scale, pil[0].height * scale)
        pil = [p.resize(size, Image.Resampling.NEAREST) for p in pil]
    durations = [ms] * (len(pil) - 1) + [hold]
    gif = encoded(pil[0], "GIF", save_all=True, append_images=pil[1:], duration=durations, loop=0)
    return data_uri(gif, "image/gif")


def thumbnail_data_uri(images: Tensor, size: int = 32) -> str:
    """``[N, C, H, W]`` images side by side, each at most ``size`` pixels high, as a PNG URI."""
    Image = pillow()

    row = tile(images, ncol=len(images), pad=0)
    pil = Image.fromarray(to_uint8(row))
    if pil.height > size:
        width = round(pil.width * size / pil.height)
        pil = pil.resize((width, size), Image.Resampling.BILINEAR)
    return data_uri(encoded(pil))


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


def colour_change(x: Tensor, x_cf: Tensor, limit: float | None = None) -> Tensor:
    """Per-channel difference ``x_cf - x`` of RGB images as an RGB image ``[3, H, W]``: mid
    grey where nothing changed, each channel lighter where it grew and darker where it shrank
    (a red that turns green: more green, less red), saturating at ``limit`` (default: the
    largest absolute change of any channel). :func:`diff_heatmap` averages the channels, so it shows
    a change of hue at constant brightness as no change; this map shows it."""
    diff = x_cf.float() - x.float()
    if diff.shape[0] != 3:
        raise ValueError(f"colour_change needs RGB images [3, H, W], got {tuple(diff.shape)}")
    scale = limit if limit is not None else float(diff.abs().max().clamp_min(1e-6))
    return (0.5 + 0.5 * diff / scale).clamp(0, 1)
