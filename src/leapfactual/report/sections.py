"""What the report computes from an explanation: which CEs to show, the source x target
validity matrix, and the per-leap curves (target probability, L1 and SSIM to the input)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from leapfactual.explain import Explanation
from leapfactual.metrics import l1_distance, ssim

ORDERS = ("failures", "random", "per-class", "first")
"""How the report picks the CEs it shows as cards."""

Decode = Callable[[Tensor], Tensor]
"""Latents ``[N, D]`` -> images ``[N, C, H, W]`` in [0, 1] (the run's codec)."""

SSIM_WINDOW = 11


def check_order(order: str) -> str:
    """``order`` if it is one of :data:`ORDERS`, else a ``ValueError`` naming them."""
    if order not in ORDERS:
        raise ValueError(f"unknown sample order {order!r}; choose one of {', '.join(ORDERS)}")
    return order


def select_samples(exp: Explanation, n: int, order: str = "failures", seed: int = 0) -> list[int]:
    """Indices of ``n`` CEs to show: ``failures`` (CEs that missed their target first, then the
    rest, each in index order), ``random`` (seeded), ``per-class`` (one of each source class
    in turn) or ``first``."""
    check_order(order)
    if n < 0:
        raise ValueError(f"the number of samples shown must be >= 0, got {n}")
    total = len(exp)
    if order == "first":
        picked = list(range(total))
    elif order == "random":
        gen = torch.Generator().manual_seed(seed)
        picked = torch.randperm(total, generator=gen).tolist()
    elif order == "failures":
        valid = exp.valid.cpu()
        picked = (~valid).nonzero()[:, 0].tolist() + valid.nonzero()[:, 0].tolist()
    else:
        source = exp.source.cpu()
        queues = [(source == k).nonzero()[:, 0].tolist() for k in source.unique().tolist()]
        picked = [q[r] for r in range(max(map(len, queues))) for q in queues if r < len(q)]
    return picked[:n]


@dataclass(frozen=True)
class Matrix:
    """Counts per (source, target): ``total[s, t]`` CEs, ``valid[s, t]`` of them valid."""

    total: Tensor
    valid: Tensor


def validity_matrix(exp: Explanation, valid: Tensor) -> Matrix:
    """CEs and valid CEs per (the classifier's class of the input, target) pair."""
    k = exp.probs.shape[1]
    pair = exp.source.cpu().long() * k + exp.target.cpu().long()
    total = torch.bincount(pair, minlength=k * k).view(k, k)
    hits = torch.bincount(pair, weights=valid.cpu().double(), minlength=k * k).view(k, k)
    return Matrix(total, hits.round().long())


@dataclass(frozen=True)
class Curve:
    """One metric per leap over all CEs: mean and the 10th / 90th percentiles, plus an
    optional reference level (e.g. the same metric between random pairs of inputs)."""

    name: str
    mean: list[float]
    low: list[float]
    high: list[float]
    reference: float | None = None


@dataclass(frozen=True)
class Curves:
    """Per-leap curves, with the number of blending leaps (the blend / inject boundary)."""

    curves: list[Curve]
    blend_steps: int | None


def leap_curves(
    exp: Explanation, decode: Decode | None = None, seed: int = 0, batch: int = 256
) -> Curves | None:
    """Target probability per leap (from ``trajectory_probs``), and L1 and SSIM of each leap's
    image to the input when the images are there (``trajectory_images``) or can be decoded
    from the latent trajectory (``decode``; decoded in batches, never kept). The random-pair
    reference compares every input with another input of a seeded permutation. None
    without a trajectory."""
    if exp.trajectory_probs is None:
        return None
    rows = torch.arange(len(exp))
    target_p = exp.trajectory_probs.cpu()[rows, :, exp.target.cpu().long()]
    curves = [_curve("p(target)", target_p)]
    distances = _distances(exp, decode, batch)
    if distances is not None:
        gen = torch.Generator().manual_seed(seed)
        x = exp.x.cpu().float()
        other = x[torch.randperm(len(x), generator=gen)]
        l1, sim = distances
        curves.append(_curve("L1 to input", l1, float(l1_distance(other, x).mean())))
        if sim is not None:
            curves.append(_curve("SSIM to input", sim, float(ssim(other, x).mean())))
    blend = exp.config.get("blend")
    steps = blend.get("steps") if isinstance(blend, dict) else None
    return Curves(curves, int(steps) if isinstance(steps, int) else None)


def decode_trajectory(exp: Explanation, i: int, decode: Decode) -> Tensor:
    """The images ``[T + 1, C, H, W]`` along CE ``i``'s trajectory: kept, or decoded."""
    if exp.trajectory_images is not None:
        return exp.trajectory_images[i].cpu().float()
    if exp.trajectory is None:
        raise ValueError("the explanation has no trajectory to draw")
    with torch.no_grad():
        return decode(exp.trajectory[i]).cpu().float().clamp(0, 1)


def _distances(
    exp: Explanation, decode: Decode | None, batch: int
) -> tuple[Tensor, Tensor | None] | None:
    if exp.trajectory_images is None and (exp.trajectory is None or decode is None):
        return None
    x = exp.x.cpu().float()
    with_ssim = min(x.shape[-2:]) >= SSIM_WINDOW
    l1_parts, ssim_parts = [], []
    for start in range(0, len(exp), batch):
        stop = min(start + batch, len(exp))
        if exp.trajectory_images is not None:
            images = exp.trajectory_images[start:stop].cpu().float()
        else:
            assert exp.trajectory is not None and decode is not None
            lat = exp.trajectory[start:stop]
            with torch.no_grad():
                flat = decode(lat.reshape(-1, *lat.shape[2:])).cpu().float().clamp(0, 1)
            images = flat.view(lat.shape[0], lat.shape[1], *flat.shape[1:])
        steps = images.shape[1]
        ref = x[start:stop, None].expand_as(images).reshape(-1, *x.shape[1:])
        flat = images.reshape(-1, *x.shape[1:])
        l1_parts.append(l1_distance(flat, ref).view(-1, steps))
        if with_ssim:
            ssim_parts.append(ssim(flat, ref).view(-1, steps))
    return torch.cat(l1_parts), torch.cat(ssim_parts) if with_ssim else None


def _curve(name: str, values: Tensor, reference: float | None = None) -> Curve:
    v = values.double()
    q = torch.quantile(v, torch.tensor([0.1, 0.9], dtype=torch.float64), dim=0)
    return Curve(name, v.mean(0).tolist(), q[0].tolist(), q[1].tolist(), reference)
