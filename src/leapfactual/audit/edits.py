"""Global edits: the part of a counterfactual's change that is not a patch (docs/method.md §10).

A confound can be global: a brighter class, a colour cast, less contrast, blur. Each CE's
change ``d = x' - x`` is fitted, per image and by least squares over its pixels, by

    d_c(p) ~ o_c + k_c (x_c(p) - m_c) + s (blur(x)_c(p) - x_c(p))

(``m_c``: channel ``c``'s mean; ``blur``: a Gaussian of :data:`BLUR_SIGMA` pixels), whose
coefficients split into four edits that apply to *any* image, so they can be reverted in the
CE or transplanted into another input:

- ``brightness``: the mean offset ``mean_c o_c``, the same in every pixel and channel;
- ``contrast``: the mean gain ``mean_c k_c`` around each channel's mean;
- ``colour``: each channel's offset and gain minus those means (none for grey images);
- ``blur``: ``s`` times the blurred image minus the image (``s < 0`` sharpens).

An edit counts only where it carries at least :data:`MIN_SHARE` of the change's energy
(``||part||^2 >= MIN_SHARE ||d||^2``): a fitted offset of a few hundredths under a local
patch is no global edit, and leaving it in the change would smear the patch over the image.
Nor does any edit count in a change confined to a small area (fewer than :data:`MIN_SPREAD` of
the pixels changed, :func:`~leapfactual.audit.regions.changed_pixels`): on an image whose only
structure is a patch, a local change of that patch fits a contrast edit, but it is a patch.
The rest of the change, ``d`` minus the edits that count, is what is cut into regions.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.nn import functional as F

from leapfactual.audit.regions import changed_pixels, pixel_change

EDITS = ("brightness", "contrast", "colour", "blur")
"""Every global edit, in the order of their columns."""
BLUR_SIGMA = 1.0
"""Standard deviation (pixels) of the Gaussian that defines the ``blur`` edit."""
MIN_SHARE = 0.25
"""An edit counts in a CE when its part holds at least this share of the change's energy."""
MIN_SPREAD = 0.5
"""An edit counts only in a change that touches at least this share of the image's pixels."""


def edits_for(channels: int, edits: Sequence[str] = EDITS) -> tuple[str, ...]:
    """``edits`` that can exist in images of ``channels`` (``colour`` needs two or more)."""
    unknown = [e for e in edits if e not in EDITS]
    if unknown:
        raise ValueError(f"unknown global edits {unknown}; choose from {list(EDITS)}")
    return tuple(e for e in EDITS if e in edits and (e != "colour" or channels > 1))


def blurred(x: Tensor, sigma: float = BLUR_SIGMA) -> Tensor:
    """``x`` ``[B, C, H, W]`` blurred by a Gaussian of ``sigma`` pixels per channel
    (reflected edges; images smaller than the kernel are replicated at the edge)."""
    radius = max(1, round(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-(t**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    c = x.shape[1]
    mode = "reflect" if min(x.shape[-2:]) > radius else "replicate"
    padded = F.pad(x, (radius, radius, radius, radius), mode=mode)
    rows = F.conv2d(padded, kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(rows, kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def _basis(x: Tensor) -> Tensor:
    """Columns of the fit per image ``[B, C*H*W, 2C + 1]``: one offset and one gain per
    channel, and the blur direction."""
    b, c = x.shape[:2]
    centred = x - x.mean(dim=(2, 3), keepdim=True)
    eye = torch.eye(c, dtype=x.dtype, device=x.device).view(1, c, c, 1, 1)
    offsets = eye.expand(b, c, c, *x.shape[2:])  # [B, C(column), C, H, W]
    gains = eye * centred.unsqueeze(1)
    blur = (blurred(x) - x).unsqueeze(1)
    columns = torch.cat([offsets, gains, blur], dim=1)  # [B, 2C + 1, C, H, W]
    return columns.flatten(2).transpose(1, 2)


def fit_edits(x: Tensor, x_cf: Tensor) -> Tensor:
    """Least-squares coefficients of each CE's change ``[B, 2C + 1]`` (float64 on the CPU):
    the offsets ``o_c``, the gains ``k_c`` and the blur ``s`` of the module docstring."""
    xd, dd = x.detach().double().cpu(), (x_cf.detach() - x.detach()).double().cpu()
    basis = _basis(xd)
    return torch.linalg.lstsq(basis, dd.flatten(1).unsqueeze(2), driver="gelsd").solution[..., 0]


def edit_parts(x: Tensor, params: Tensor, edits: Sequence[str]) -> Tensor:
    """The parts of the ``edits`` that coefficients ``params`` ``[B, 2C + 1]`` make on images
    ``x`` ``[B, C, H, W]`` (a CE's own input, or another image: a transplant),
    ``[B, len(edits), C, H, W]`` in ``x``'s dtype on its device."""
    c = x.shape[1]
    p = params.to(x.device, torch.float64)
    xd = x.detach().double()
    offsets, gains, blur = p[:, :c], p[:, c : 2 * c], p[:, 2 * c]
    centred = xd - xd.mean(dim=(2, 3), keepdim=True)
    o_mean, k_mean = offsets.mean(1), gains.mean(1)
    shape = (-1, 1, 1, 1)
    parts = {
        "brightness": o_mean.view(shape).expand_as(xd),
        "contrast": k_mean.view(shape) * centred,
        "colour": (offsets - o_mean[:, None]).view(-1, c, 1, 1)
        + (gains - k_mean[:, None]).view(-1, c, 1, 1) * centred,
        "blur": blur.view(shape) * (blurred(xd) - xd),
    }
    if not edits:
        return x.new_zeros(len(x), 0, *x.shape[1:])
    return torch.stack([parts[e] for e in edits], dim=1).to(x.dtype)


def split_change(
    x: Tensor, x_cf: Tensor, edits: Sequence[str]
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Each CE's change split into global ``edits`` and the rest: the coefficients
    ``[B, 2C + 1]``, the parts ``[B, G, C, H, W]`` (zero where an edit does not count, see
    :data:`MIN_SHARE`), whether each counts ``[B, G]`` and the rest ``[B, C, H, W]``; CPU,
    in ``x``'s dtype."""
    xc, cf = x.detach().cpu(), x_cf.detach().cpu()
    params = fit_edits(xc, cf)
    parts = edit_parts(xc, params, edits)
    change = cf - xc
    energy = change.double().pow(2).flatten(1).sum(1)
    share = parts.double().pow(2).flatten(2).sum(2) / energy.clamp_min(1e-30)[:, None]
    spread = changed_pixels(pixel_change(xc, cf)).flatten(1).float().mean(1)
    counts = (share >= MIN_SHARE) & (energy[:, None] > 0) & (spread[:, None] >= MIN_SPREAD)
    parts = parts * counts[:, :, None, None, None].to(parts.dtype)
    return params, parts, counts, change - parts.sum(dim=1)


__all__ = ["BLUR_SIGMA", "EDITS", "MIN_SHARE", "MIN_SPREAD", "blurred", "edit_parts", "edits_for",
           "fit_edits", "split_change"]  # fmt: skip
