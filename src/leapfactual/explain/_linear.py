"""Linear probes on latents: L2-regularised logistic regressions, fitted with L-BFGS.

Shared by :class:`~leapfactual.explain.reflection.LatentReflection` (one multinomial probe)
and :mod:`~leapfactual.explain.attributions` (one binary probe per attribute). Features are
standardised for the fit (so the penalty treats every latent dimension alike, as with
scikit-learn behind a ``StandardScaler``) and the weights are mapped back to raw latents.
Fitting runs in float64 on the CPU: deterministic, and small next to any generative model.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def _lbfgs(params: list[Tensor], loss_fn: Callable[[], Tensor], max_iter: int) -> None:
    optimizer = torch.optim.LBFGS(
        params,
        lr=1.0,
        max_iter=max_iter,
        tolerance_grad=1e-9,
        tolerance_change=1e-12,
        history_size=20,
        line_search_fn="strong_wolfe",
    )

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    optimizer.step(closure)


def _standardise(z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    z = z.detach().to("cpu", torch.float64)
    mean = z.mean(dim=0)
    std = z.std(dim=0, unbiased=False)
    std = torch.where(std > 1e-12, std, torch.ones_like(std))
    return (z - mean) / std, mean, std


def _unstandardise(w: Tensor, b: Tensor, mean: Tensor, std: Tensor) -> tuple[Tensor, Tensor]:
    w_raw = w / std
    return w_raw, b - w_raw @ mean


def fit_softmax(
    z: Tensor, labels: Tensor, num_classes: int, l2: float, max_iter: int
) -> tuple[Tensor, Tensor]:
    """Multinomial logistic regression ``labels ~ softmax(z W^T + b)``; returns ``W [K, D]``
    and ``b [K]`` (float64, CPU) for raw latents."""
    zs, mean, std = _standardise(z)
    labels = labels.detach().to("cpu", torch.long)
    with torch.inference_mode(False), torch.enable_grad():
        w = torch.zeros(num_classes, zs.shape[1], dtype=torch.float64, requires_grad=True)
        b = torch.zeros(num_classes, dtype=torch.float64, requires_grad=True)

        def loss() -> Tensor:
            ce = torch.nn.functional.cross_entropy(zs @ w.T + b, labels)
            return ce + 0.5 * l2 * w.pow(2).sum()

        _lbfgs([w, b], loss, max_iter)
    return _unstandardise(w.detach(), b.detach(), mean, std)


def fit_sigmoid(z: Tensor, targets: Tensor, l2: float, max_iter: int) -> tuple[Tensor, Tensor]:
    """One binary logistic regression per column of ``targets [N, A]`` (values in {0, 1});
    returns ``W [A, D]`` and ``b [A]`` (float64, CPU) for raw latents. The columns' losses
    are independent, so fitting them in one call gives each its own regression."""
    zs, mean, std = _standardise(z)
    targets = targets.detach().to("cpu", torch.float64)
    with torch.inference_mode(False), torch.enable_grad():
        w = torch.zeros(targets.shape[1], zs.shape[1], dtype=torch.float64, requires_grad=True)
        b = torch.zeros(targets.shape[1], dtype=torch.float64, requires_grad=True)

        def loss() -> Tensor:
            bce = torch.nn.functional.binary_cross_entropy_with_logits(
                zs @ w.T + b, targets, reduction="none"
            )
            return bce.mean(dim=0).sum() + 0.5 * l2 * w.pow(2).sum()

        _lbfgs([w, b], loss, max_iter)
    return _unstandardise(w.detach(), b.detach(), mean, std)
