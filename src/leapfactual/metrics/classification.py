"""Does the counterfactual reach its target class? Validity, AUROC, oracle validity."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from scipy.stats import rankdata
from torch import Tensor

from leapfactual.metrics._checks import as_tensor, device_of, probs_and_target


def validity(probs_cf: Any, target: Any) -> float:
    """Flip rate: fraction of CEs with ``argmax probs_cf == target``.

    Args:
        probs_cf: the classifier's ``[B, K]`` outputs on the CEs (probabilities or logits).
        target: ``[B]`` target classes, or one int for all.
    """
    p, t = probs_and_target(probs_cf, target)
    if len(t) == 0:
        raise ValueError("validity of an empty batch is undefined")
    return float((p.argmax(dim=1) == t).double().mean())


def auroc(probs_cf: Any, target: Any) -> float:
    """Multiclass one-vs-rest AUROC, macro-averaged, of soft outputs against the target.

    For each class k, the area under the ROC curve of score ``probs_cf[:, k]`` for separating
    CEs with target k from the others (Mann-Whitney, ties count half); the mean over classes.
    Classes that are never a target, or are every target, have no ROC curve and are left out
    of the mean; NaN when no class has one (a single target class).
    """
    p, t = probs_and_target(probs_cf, target)
    scores, labels = p.numpy(), t.numpy()
    areas = []
    for k in range(scores.shape[1]):
        positive = labels == k
        n_pos = int(positive.sum())
        n_neg = len(labels) - n_pos
        if n_pos == 0 or n_neg == 0:
            continue
        ranks = rankdata(scores[:, k])
        areas.append((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    return float(np.mean(areas)) if areas else float("nan")


def oracle_validity(
    oracle: Callable[[Tensor], Tensor], x_cf: Any, target: Any, batch_size: int = 256
) -> float:
    """Validity judged by an independent classifier: fraction of CEs with
    ``argmax oracle(x_cf) == target``.

    ``oracle`` is any callable images -> ``[B, K]`` outputs (another architecture or seed,
    a stronger model, or the true rule). A CE that flips the explained model but not the
    oracle is adversarial or unreliable. Runs without gradients, ``batch_size`` at a time,
    on the oracle's device when it is a module.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    x = x_cf.detach() if isinstance(x_cf, Tensor) else as_tensor(x_cf, "x_cf").float()
    device = device_of(oracle)
    outputs = []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            batch = x[start : start + batch_size]
            if device is not None:
                batch = batch.to(device)
            out = oracle(batch)
            if not isinstance(out, Tensor) or out.dim() != 2 or out.shape[0] != len(batch):
                shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
                raise ValueError(f"the oracle must return [B, K] outputs, got {shape}")
            outputs.append(out.detach().float().cpu())
    if not outputs:
        raise ValueError("oracle validity of an empty batch is undefined")
    return validity(torch.cat(outputs), target)
