"""Shared argument checks: tensors, targets and masks of matching length."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor


def as_tensor(values: Any, name: str) -> Tensor:
    """``values`` (tensor, array or sequence) as a CPU tensor, detached."""
    if isinstance(values, Tensor):
        return values.detach().cpu()
    try:
        return torch.as_tensor(np.asarray(values))
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{name} must be a tensor or an array, got {type(values).__name__}"
        ) from error


def probs_and_target(probs: Any, target: Any) -> tuple[Tensor, Tensor]:
    """``[B, K]`` float scores and ``[B]`` long targets in ``[0, K)``; an int target is
    broadcast to every sample."""
    p = as_tensor(probs, "probs").double()
    if p.dim() != 2:
        raise ValueError(f"probs must be [B, K], got shape {tuple(p.shape)}")
    t = as_tensor(target, "target")
    if t.dim() == 0:
        t = t.expand(p.shape[0])
    if t.dim() != 1 or t.shape[0] != p.shape[0]:
        raise ValueError(f"target must be an int or [B] = [{p.shape[0]}], got {tuple(t.shape)}")
    if t.dtype.is_floating_point or t.dtype == torch.bool:
        raise ValueError(f"target must hold class indices, got dtype {t.dtype}")
    t = t.long()
    if t.numel() and (t.min() < 0 or t.max() >= p.shape[1]):
        raise ValueError(f"target classes must lie in [0, {p.shape[1]}), got {t.min()}..{t.max()}")
    return p, t


def check_mask(mask: Any, n: int) -> Tensor | None:
    """A boolean ``[n]`` mask (None stays None)."""
    if mask is None:
        return None
    m = as_tensor(mask, "mask")
    if m.dtype != torch.bool:
        raise ValueError(f"mask must be boolean, got dtype {m.dtype}")
    if m.shape != (n,):
        raise ValueError(f"mask must have shape [{n}], got {tuple(m.shape)}")
    return m


def paired(a: Any, b: Any, names: tuple[str, str]) -> tuple[Tensor, Tensor]:
    """Two image batches of the same shape ``[B, ...]`` as float64 CPU tensors."""
    x, y = as_tensor(a, names[0]).double(), as_tensor(b, names[1]).double()
    if x.shape != y.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same shape, got "
            f"{tuple(x.shape)} and {tuple(y.shape)}"
        )
    if x.dim() < 2:
        raise ValueError(f"expected batches [B, ...], got shape {tuple(x.shape)}")
    return x, y


def device_of(model: Callable[[Tensor], Tensor]) -> torch.device | None:
    """The device of a module's first parameter or buffer; None for other callables."""
    if isinstance(model, torch.nn.Module):
        for tensor in (*model.parameters(), *model.buffers()):
            return tensor.device
    return None
