"""Evidence beside validity: does a CE keep its target under small changes, and do CEs of
different inputs collapse into one image?

Validity says only that the classifier puts a CE in its target class; a codec that turns every
input into the same smear, or a change that acts on the classifier like an adversarial
pattern, passes it. These checks need no human and no second model:

- :func:`robustness`: the classifier is asked again after each of three changes that keep an
  image's content, a codec round trip (``decode(encode(x'))``), a slight Gaussian blur and
  slight Gaussian noise. A valid CE that loses its target under any of them is *fragile*:
  what moved the classifier was a pattern these changes remove. ``robust validity`` is the
  share of CEs valid before and after every change.
- :func:`collapsed`: a CE that is nearly the same image as a CE of another input toward the
  same target, while the two inputs were not alike (their CEs are closer than
  :data:`COLLAPSE_RATIO` of the inputs' distance).

A third candidate, a CE less like its input (SSIM) than random pairs of inputs, did not
separate good runs from broken ones and was left out (``docs/method.md``, §8).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from leapfactual.explain import Outputs, as_probs
from leapfactual.metrics._checks import device_of
from leapfactual.metrics.proximity import gaussian_kernel
from leapfactual.models import as_tensor_outputs

BLUR_SIGMA = 1.0
"""Standard deviation (pixels) of the blur a robust CE must survive."""
NOISE_STD = 0.03
"""Standard deviation of the Gaussian noise (images in [0, 1]) a robust CE must survive."""
CHANGES = ("round trip", "blur", "noise")
"""The content-keeping changes of :func:`robustness`, in order."""
COLLAPSE_RATIO = 0.25
"""Two CEs toward one target are collapsed when they are closer (L1) than this share of their
inputs' distance."""
MAX_PAIRS = 512
""":func:`collapsed` compares at most this many CEs per target (seeded choice)."""


def blur(images: Tensor, sigma: float = BLUR_SIGMA) -> Tensor:
    """Each channel of ``images`` ``[B, C, H, W]`` blurred by a Gaussian of ``sigma`` pixels
    (a window of 2 ceil(2 sigma) + 1 taps, reflected at the borders)."""
    if not (math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"blur sigma must be a finite number > 0, got {sigma!r}")
    radius = math.ceil(2 * sigma)
    g = gaussian_kernel(2 * radius + 1, sigma).to(images.dtype).to(images.device)
    c = images.shape[1]
    mode = "reflect" if min(images.shape[-2:]) > radius else "replicate"
    padded = F.pad(images, (radius,) * 4, mode=mode)
    rows = F.conv2d(padded, g.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(rows, g.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def add_noise(images: Tensor, std: float = NOISE_STD, seed: int = 0) -> Tensor:
    """``images`` plus seeded Gaussian noise of ``std``, clamped to [0, 1]."""
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(images.shape, generator=generator, dtype=torch.float32)
    return (images + std * noise.to(images.device, images.dtype)).clamp(0, 1)


@dataclass(frozen=True)
class Robustness:
    """Per CE ``[B]`` (bool): ``valid`` (the target before any change), and for each change
    of :data:`CHANGES` that applied, whether the target survived it (``kept``)."""

    valid: Tensor
    kept: dict[str, Tensor]

    @property
    def robust(self) -> Tensor:
        """Valid, and still valid after every change."""
        out = self.valid.clone()
        for kept in self.kept.values():
            out &= kept
        return out

    def summary(self) -> dict[str, float]:
        """``robust_validity``, and per change the share of valid CEs that kept their target
        (``kept_after_blur`` ...; NaN with no valid CE)."""
        out = {"robust_validity": _mean(self.robust)}
        for name, kept in self.kept.items():
            out[f"kept_after_{name.replace(' ', '_')}"] = _mean(kept[self.valid])
        return out


@torch.no_grad()
def robustness(
    classifier: Callable[[Tensor], Any],
    x_cf: Tensor,
    target: Tensor,
    *,
    codec: Any = None,
    outputs: Outputs = "logits",
    tolerance: float | None = None,
    seed: int = 0,
    batch: int = 256,
) -> Robustness:
    """Whether each CE ``x_cf`` ``[B, C, H, W]`` (in [0, 1]) reaches its ``target`` (a class,
    or with ``tolerance`` a regressor's value) before and after each content-keeping change:
    a ``codec`` round trip (left out without a codec), :func:`blur` and :func:`add_noise`
    (seeded by ``seed``). ``outputs``: ``logits``, ``probs`` or ``value``."""
    if x_cf.dim() != 4 or len(x_cf) != len(target):
        raise ValueError(
            f"robustness needs CEs [B, C, H, W] and one target each, got {tuple(x_cf.shape)} "
            f"and {tuple(target.shape)}"
        )
    models = [m for m in (classifier, codec) if isinstance(m, nn.Module)]
    modes = [m.training for m in models]
    for model in models:
        model.eval()
    try:
        valid: list[Tensor] = []
        kept: dict[str, list[Tensor]] = {name: [] for name in CHANGES}
        for start in range(0, len(x_cf), batch):
            x = x_cf[start : start + batch].float()
            t = target[start : start + batch]
            changed = {"blur": blur(x), "noise": add_noise(x, seed=seed + start)}
            if codec is not None:
                where = device_of(codec) or x.device
                back = codec.decode(codec.encode(x.to(where)))
                changed["round trip"] = as_tensor_outputs(back, "codec.decode").float().cpu()
            valid.append(_reaches(classifier, x, t, outputs, tolerance))
            for name, images in changed.items():
                kept[name].append(_reaches(classifier, images.clamp(0, 1), t, outputs, tolerance))
    finally:
        for model, mode in zip(models, modes, strict=True):
            model.train(mode)
    return Robustness(torch.cat(valid), {k: torch.cat(v) for k, v in kept.items() if v})


def _reaches(
    classifier: Callable[[Tensor], Any],
    images: Tensor,
    target: Tensor,
    outputs: Outputs,
    tolerance: float | None,
) -> Tensor:
    where = device_of(classifier) or images.device
    answer = as_probs(as_tensor_outputs(classifier(images.to(where))), outputs)
    answer, target = answer.float().cpu(), target.cpu()
    if tolerance is not None:
        return (answer[:, 0] - target.float()).abs() <= tolerance
    return answer.argmax(1) == target.long()


def collapsed(
    x_cf: Tensor, x: Tensor, target: Tensor, ratio: float = COLLAPSE_RATIO, seed: int = 0
) -> Tensor:
    """Per CE ``[B]`` (bool): another CE toward the same target lies closer to it (L1) than
    ``ratio`` times the distance between the two inputs, which differ. CEs of one input
    (diverse variants, a repeated input) are never compared. At most :data:`MAX_PAIRS` CEs
    per target are compared (seeded choice); the others are not flagged."""
    flat_cf = x_cf.float().cpu().flatten(1)
    flat_x = x.float().cpu().flatten(1)
    out = torch.zeros(len(x_cf), dtype=torch.bool)
    generator = torch.Generator().manual_seed(seed)
    for t in target.cpu().unique():
        rows = (target.cpu() == t).nonzero()[:, 0]
        if len(rows) > MAX_PAIRS:
            rows = rows[torch.randperm(len(rows), generator=generator)[:MAX_PAIRS]]
        if len(rows) < 2:
            continue
        d_cf = torch.cdist(flat_cf[rows], flat_cf[rows], p=1) / flat_cf.shape[1]
        d_x = torch.cdist(flat_x[rows], flat_x[rows], p=1) / flat_x.shape[1]
        close = (d_cf < ratio * d_x) & (d_x > 0)
        out[rows] = close.any(1)
    return out


def _mean(values: Tensor) -> float:
    return float(values.double().mean()) if values.numel() else math.nan


__all__ = [
    "BLUR_SIGMA",
    "CHANGES",
    "COLLAPSE_RATIO",
    "NOISE_STD",
    "Robustness",
    "add_noise",
    "blur",
    "collapsed",
    "robustness",
]
