"""How different are the K counterfactuals of one input? Pairwise distances among them.

The K CEs of an input (``explain(x, target, diverse=K)``: rows of an input consecutive) are
compared pair by pair, both as images and as the changes they need from the input: two CEs
can lie far apart while changing the same pixels in the same direction, or close while
changing different ones.
"""

from __future__ import annotations

from typing import Any

import torch

from leapfactual.metrics._checks import check_mask, paired


def diversity(x_cf: Any, x: Any, copies: int, mask: Any = None) -> dict[str, float]:
    """Mean pairwise differences among the ``copies`` CEs of each input.

    ``x_cf`` and ``x`` are ``[B * copies, ...]`` (``x`` repeats each input). Returns
    ``l1``: the mean over inputs and pairs ``j < k`` of ``mean |x'_j - x'_k|`` (per pixel);
    ``change_cosine``: the mean of ``1 - cos(x'_j - x, x'_k - x)`` (0: the same change,
    1: orthogonal changes, 2: opposite; an unchanged CE counts as orthogonal); and
    ``pairs``: how many pairs were scored. ``mask`` scores only pairs whose two CEs are in
    it (e.g. both valid); NaN when no pair is.
    """
    cf, base = paired(x_cf, x, ("x_cf", "x"))
    if isinstance(copies, bool) or not isinstance(copies, int) or copies < 2:
        raise ValueError(f"copies must be an integer >= 2, got {copies!r}")
    if cf.shape[0] % copies:
        raise ValueError(f"{cf.shape[0]} CEs are not a whole number of groups of {copies}")
    keep = check_mask(mask, cf.shape[0])
    groups = cf.shape[0] // copies
    images = cf.flatten(1).view(groups, copies, -1)
    change = images - base.flatten(1).view(groups, copies, -1)
    ok = torch.ones(groups, copies, dtype=torch.bool) if keep is None else keep.view(groups, -1)
    j, k = torch.triu_indices(copies, copies, offset=1)
    use = ok[:, j] & ok[:, k]
    l1 = (images[:, j] - images[:, k]).abs().mean(dim=2)
    cosine = torch.nn.functional.cosine_similarity(change[:, j], change[:, k], dim=2, eps=1e-12)
    count = int(use.sum())
    if count == 0:
        return {"l1": float("nan"), "change_cosine": float("nan"), "pairs": 0.0}
    return {
        "l1": float(l1[use].mean()),
        "change_cosine": float((1 - cosine)[use].mean()),
        "pairs": float(count),
    }


__all__ = ["diversity"]
