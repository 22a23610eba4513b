"""Opt-based counterfactuals: Wachter-style optimisation of the latent (docs/method.md §7)."""

from __future__ import annotations

import torch
from torch import Tensor

from leapfactual.explain._descent import (
    check_positive,
    check_tau,
    descend,
    squared_error,
    target_met,
)
from leapfactual.explain.base import Explainer, Outputs
from leapfactual.explain.explanation import Cost
from leapfactual.models import Classifier, Codec


class OptBased(Explainer):
    """Wachter-style counterfactuals in a generative model's latent space.

    Starting from ``z = encode(x)``, AdamW minimises, for each sample,
    ``mean_k (softmax(f(g(z)))_k - onehot(y')_k)^2 + l1 * mean_pixels |g(z) - x|``
    (the paper's ``MSE + 0.0006 * L1``); for a regressor (``outputs="value"``) the target
    term is the squared error ``(f(g(z)) - y')^2`` towards the wanted value. The batch loss
    is the *sum* of these per-sample losses, so each sample's result does not depend on the
    rest of its batch (a batch mean would scale every gradient by 1/B, which AdamW largely
    but not exactly undoes through eps).
    Needs gradients of the classifier and the decoder; their parameters are never changed.

    Args:
        classifier: differentiable torch model images -> outputs ``[B, K]``.
        codec: ``encode`` / ``decode`` of the generative model (both torch, ``decode``
            differentiable).
        lr: AdamW learning rate (paper: 0.2).
        steps: gradient steps (paper: 1,000).
        l1: weight of the L1 distance to the input (paper: 0.0006).
        weight_decay: AdamW's decoupled weight decay on z (torch's default, 0.01, as in the
            reference, which does not set it).
        tau: stop a sample once the classifier gives the target more than ``tau`` (a
            regressor: once within ``2 (1 - tau) * tolerance`` of it); None (the paper)
            always takes every step.
        outputs, batch_size, progress, seed, tolerance: see :class:`Explainer`.
    """

    name = "opt"
    regression = True

    def __init__(
        self,
        classifier: Classifier,
        codec: Codec,
        lr: float = 0.2,
        steps: int = 1000,
        l1: float = 0.0006,
        weight_decay: float = 0.01,
        tau: float | None = None,
        outputs: Outputs = "logits",
        batch_size: int = 256,
        progress: bool = False,
        seed: int | None = 0,
        tolerance: float | None = None,
    ) -> None:
        if codec is None:
            raise ValueError("OptBased works in a latent space: give a codec (encode / decode)")
        super().__init__(classifier, codec, outputs, batch_size, progress, seed, tolerance)
        check_positive(lr=lr)
        if steps < 0 or l1 < 0 or weight_decay < 0:
            raise ValueError(
                f"steps, l1 and weight_decay must be >= 0; got {steps}, {l1}, {weight_decay}"
            )
        check_tau(tau)
        self.lr = lr
        self.steps = steps
        self.l1 = l1
        self.weight_decay = weight_decay
        self.tau = tau

    def explain_batch(
        self, x: Tensor, target: Tensor, probs: Tensor, cost: Cost
    ) -> dict[str, Tensor]:
        with torch.no_grad():
            z = self.encode(x, cost)

        def evaluate(rows: Tensor, index: Tensor) -> tuple[Tensor, Tensor, Tensor]:
            images = self.decode(rows, cost)
            p = self.classify(images, cost)
            if self.outputs == "value":
                mse = squared_error(p, target[index])
            else:
                goal = torch.nn.functional.one_hot(target[index], p.shape[1]).to(p.dtype)
                mse = (p - goal).pow(2).flatten(1).mean(dim=1)
            dist = (images - x[index]).abs().flatten(1).mean(dim=1)
            return images, p, mse + self.l1 * dist.to(mse.dtype)

        result = descend(
            z,
            evaluate,
            lambda params: torch.optim.AdamW(params, lr=self.lr, weight_decay=self.weight_decay),
            self.steps,
            cost,
            "OptBased",
            stop=None if self.tau is None else target_met(target, self.tau, self.tolerance),
        )
        return {
            "z": z,
            "z_cf": result.var,
            "x_cf": result.images,
            "probs_cf": result.probs,
            "steps": result.steps,
        }


__all__ = ["OptBased"]
