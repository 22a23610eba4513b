"""How close is the counterfactual to its input? L1, L2, SSIM, PSNR, per sample.

Every function takes two batches of the same shape ``[B, ...]`` (images in ``[0, data_range]``
for SSIM and PSNR) and returns one value per sample; :func:`proximity` averages them.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from leapfactual.metrics._checks import check_mask, paired


def l1_distance(x_cf: Any, x: Any) -> Tensor:
    """Mean absolute difference per pixel, ``||x' - x||_1 / D``, per sample ``[B]``."""
    a, b = paired(x_cf, x, ("x_cf", "x"))
    return (a - b).abs().flatten(1).mean(dim=1)


def l2_distance(x_cf: Any, x: Any) -> Tensor:
    """Root-mean-square difference, ``||x' - x||_2 / sqrt(D)``, per sample ``[B]``."""
    a, b = paired(x_cf, x, ("x_cf", "x"))
    return (a - b).pow(2).flatten(1).mean(dim=1).sqrt()


def psnr(x_cf: Any, x: Any, data_range: float = 1.0) -> Tensor:
    """Peak signal-to-noise ratio in dB, ``10 log10(data_range^2 / MSE)``, per sample ``[B]``
    (+inf for identical images)."""
    a, b = paired(x_cf, x, ("x_cf", "x"))
    mse = (a - b).pow(2).flatten(1).mean(dim=1)
    return 10.0 * torch.log10(data_range**2 / mse)


def gaussian_kernel(size: int, sigma: float) -> Tensor:
    """A 1-D Gaussian of ``size`` taps and width ``sigma`` that sums to 1 (float64)."""
    t = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(t**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(
    x_cf: Any, x: Any, data_range: float = 1.0, kernel_size: int = 11, sigma: float = 1.5
) -> Tensor:
    """Structural similarity (Wang et al. 2004) per sample ``[B]``.

    Local means, variances and covariance under a ``kernel_size`` Gaussian window (std
    ``sigma``) at every position where the window fits inside the image;
    ``SSIM = (2 mu_a mu_b + C1)(2 cov + C2) / ((mu_a^2 + mu_b^2 + C1)(var_a + var_b + C2))``
    with ``C1 = (0.01 L)^2``, ``C2 = (0.03 L)^2``, ``L = data_range``, averaged over positions
    and channels. Images are ``[B, H, W]`` or ``[B, C, H, W]``; identical images give 1.
    Equals scikit-image's ``structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False)`` to float rounding. torchmetrics'
    ``structural_similarity_index_measure`` is another number: it reflect-pads the images and
    averages over every pixel, borders included; on 500 pairs of MNIST digits, whose black
    borders match, it differs from this one by up to 0.43 (0.26 on average;
    ``benchmarks/ssim_reference.py``), so compare SSIM values from one implementation only.
    """
    a, b = paired(x_cf, x, ("x_cf", "x"))
    if a.dim() == 3:
        a, b = a[:, None], b[:, None]
    if a.dim() != 4:
        raise ValueError(f"ssim needs images [B, H, W] or [B, C, H, W], got {tuple(a.shape)}")
    if min(a.shape[-2:]) < kernel_size:
        raise ValueError(
            f"images of {a.shape[-2]}x{a.shape[-1]} are smaller than the {kernel_size}-pixel "
            "SSIM window"
        )
    g = gaussian_kernel(kernel_size, sigma)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    if a.shape[0] == 0:
        return a.new_zeros(0)
    step = max(1, SSIM_CHUNK // a[0].numel())  # images per chunk
    parts = [
        _ssim_map(a[i : i + step], b[i : i + step], g, c1, c2).flatten(1).mean(dim=1)
        for i in range(0, a.shape[0], step)
    ]
    return torch.cat(parts)


SSIM_CHUNK = 2**22
"""Pixels (samples x channels x height x width) :func:`ssim` works on at once: its memory is
bounded (about 15 float64 copies of a chunk) whatever the number of images."""


def _ssim_map(a: Tensor, b: Tensor, g: Tensor, c1: float, c2: float) -> Tensor:
    """The SSIM index at every position where the window ``g`` x ``g`` fits."""
    channels, size = a.shape[1], g.numel()
    stacked = torch.cat([a, b, a * a, b * b, a * b], dim=1)  # one pass for all five maps
    columns = g.view(1, 1, -1, 1).expand(5 * channels, 1, size, 1)
    rows = g.view(1, 1, 1, -1).expand(5 * channels, 1, 1, size)
    # the Gaussian window is separable: a column then a row pass (2k taps instead of k^2)
    blurred = F.conv2d(F.conv2d(stacked, columns, groups=5 * channels), rows, groups=5 * channels)
    mu_a, mu_b, aa, bb, ab = blurred.split(channels, dim=1)
    var_a, var_b, cov = aa - mu_a**2, bb - mu_b**2, ab - mu_a * mu_b
    return ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
        (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    )


def proximity(x_cf: Any, x: Any, mask: Any = None, data_range: float = 1.0) -> dict[str, float]:
    """Means over CEs of :func:`l1_distance`, :func:`l2_distance`, :func:`ssim` and
    :func:`psnr` (keys ``l1``, ``l2``, ``ssim``, ``psnr``); ``mask`` keeps only some CEs (for
    instance the valid ones, in the DiME/ACE tradition). PSNR is +inf if a CE equals its input.
    """
    a, b = paired(x_cf, x, ("x_cf", "x"))
    keep = check_mask(mask, a.shape[0])
    if keep is not None:
        a, b = a[keep], b[keep]
    if a.shape[0] == 0:
        return {name: math.nan for name in ("l1", "l2", "ssim", "psnr")}
    return {
        "l1": float(l1_distance(a, b).mean()),
        "l2": float(l2_distance(a, b).mean()),
        "ssim": float(ssim(a, b, data_range).mean()),
        "psnr": float(psnr(a, b, data_range).mean()),
    }
