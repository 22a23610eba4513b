"""How well does a codec reconstruct held-out images, and does the classifier still agree?"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from leapfactual.metrics._checks import device_of
from leapfactual.metrics.proximity import psnr, ssim

SSIM_WINDOW = 11
"""Side of the SSIM window (:func:`~leapfactual.metrics.ssim`); smaller images get NaN SSIM."""


@torch.no_grad()
def codec_quality(
    codec: Any,
    images: Tensor,
    classifier: Callable[[Tensor], Any] | None = None,
    labels: Tensor | None = None,
    batch_size: int = 256,
    *,
    outputs: str = "logits",
) -> dict[str, float]:
    """Mean reconstruction quality of ``decode(encode(x))`` over ``images`` (float in [0, 1]
    or uint8 ``[N, C, H, W]``), in batches of ``batch_size``, without gradients.

    Keys: ``psnr`` (dB, +inf for a perfect codec), ``ssim`` (NaN for images smaller than
    the 11-pixel SSIM window) and ``variance_kept``: ``1 - sum ||x' - x||^2 / sum ||x -
    mean||^2`` over the images (the share of their pixel variance the reconstructions keep:
    1 for a perfect codec, 0 for one that returns the mean image, below 0 for worse); with a
    ``classifier``, ``agreement``: the fraction of images whose argmax class on the
    reconstruction equals that on the input, and ``chance_agreement``: the agreement
    expected by chance from how often each class is answered on the images and on the
    reconstructions (``sum_k p_k p'_k``; 1 for a classifier that answers one class whatever
    it sees); with ``labels`` too, ``accuracy``: the fraction of reconstructions classified
    as their label. ``outputs``
    (``"logits"`` or ``"probs"``) says what the classifier returns; argmax is the same for
    both. Modules run in eval mode on their own device and are put back in their mode.
    """
    if not isinstance(images, Tensor) or images.dim() != 4 or images.shape[0] == 0:
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"images must be a non-empty tensor [N, C, H, W], got {shape}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if outputs not in ("logits", "probs"):
        raise ValueError(f"unknown classifier output kind {outputs!r}; choose 'logits' or 'probs'")
    if labels is not None:
        if classifier is None:
            raise ValueError("labels were given without a classifier; pass classifier= too")
        if labels.shape != (images.shape[0],) or labels.is_floating_point():
            raise ValueError(
                f"labels must be {images.shape[0]} integer class indices [N], got shape "
                f"{tuple(labels.shape)} and dtype {labels.dtype}"
            )
    models = [m for m in (codec, classifier) if isinstance(m, nn.Module)]
    modes = [m.training for m in models]
    for model in models:
        model.eval()
    codec_device = device_of(codec) or torch.device("cpu")
    classifier_device = device_of(classifier) if classifier is not None else None
    with_ssim = min(images.shape[-2:]) >= SSIM_WINDOW
    totals = {"psnr": 0.0, "ssim": 0.0, "agreement": 0.0, "accuracy": 0.0, "error": 0.0}
    first = torch.zeros(images.shape[1:], dtype=torch.float64)
    second = torch.zeros(images.shape[1:], dtype=torch.float64)
    answers: list[Tensor] = []
    try:
        for start in range(0, images.shape[0], batch_size):
            x = images[start : start + batch_size].to(codec_device)
            x = x.float().div_(255) if x.dtype == torch.uint8 else x.float()
            recon = codec.decode(codec.encode(x))
            if not torch.isfinite(recon).all():
                raise ValueError(
                    "the codec's reconstructions hold NaN or inf values; retrain the codec"
                )
            totals["psnr"] += float(psnr(recon, x).sum())
            totals["ssim"] += float(ssim(recon, x).sum()) if with_ssim else math.nan
            totals["error"] += float((recon.double() - x.double()).pow(2).sum())
            first += x.double().sum(0).cpu()
            second += x.double().pow(2).sum(0).cpu()
            if classifier is None:
                continue
            where = classifier_device or x.device
            before = _argmax(classifier(x.to(where)))
            after = _argmax(classifier(recon.to(where)))
            totals["agreement"] += float((before == after).sum())
            answers.append(torch.stack([before.cpu(), after.cpu()]))
            if labels is not None:
                truth = labels[start : start + batch_size].to(after.device)
                totals["accuracy"] += float((after == truth).sum())
    finally:
        for model, mode in zip(models, modes, strict=True):
            model.train(mode)
    n = images.shape[0]
    keys = ["psnr", "ssim"]
    keys += ["agreement"] if classifier is not None else []
    keys += ["accuracy"] if labels is not None else []
    out = {key: totals[key] / n for key in keys}
    spread = float((second - first.pow(2) / n).sum())
    out["variance_kept"] = 1 - totals["error"] / spread if spread > 0 else math.nan
    if answers:
        out["chance_agreement"] = chance_agreement(*torch.cat(answers, dim=1))
    return out


def chance_agreement(before: Tensor, after: Tensor) -> float:
    """The agreement two answer vectors ``[N]`` (class indices) would reach by chance:
    ``sum_k p_k q_k`` with ``p_k``, ``q_k`` the shares of class ``k`` in each."""
    k = int(max(before.max(), after.max())) + 1
    p = torch.bincount(before, minlength=k).double() / len(before)
    q = torch.bincount(after, minlength=k).double() / len(after)
    return float((p * q).sum())


def _argmax(out: Any) -> Tensor:
    """Argmax class of a classifier's ``[B, K]`` outputs."""
    if not isinstance(out, Tensor) or out.dim() != 2:
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(f"the classifier must return [B, K] outputs, got {shape}")
    return out.argmax(dim=1)
