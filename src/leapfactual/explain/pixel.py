"""Pixel-space Wachter counterfactuals: the negative control (docs/method.md §7)."""

from __future__ import annotations

import torch
from torch import Tensor

from leapfactual.explain._descent import check_positive, check_tau, descend, reached
from leapfactual.explain.base import Explainer, Outputs, as_probs, log_probs
from leapfactual.explain.explanation import Cost
from leapfactual.models import Classifier


class PixelAttack(Explainer):
    """Gradient descent on the image itself, with no generative model.

    Adam minimises ``-log p(y' | x') + l1 * mean_pixels |x' - x|`` per sample, clamping
    ``x'`` to ``bounds`` after every step, and stops a sample as soon as ``p(y') > tau``
    (the rule of :class:`LatentAttack`). It flips the classifier with small, unstructured
    changes that an independent model does not agree with: the negative control of the
    benchmark, showing what an explanation that is not constrained to the data looks like.
    Needs gradients of the classifier; its parameters are never changed.

    Args:
        classifier: differentiable torch model images -> outputs ``[B, K]``.
        lr: Adam learning rate, in pixel units (0.01 = 1 % of the [0, 1] range per step).
        tau: probability of the target at which a sample stops; None takes every step.
        max_steps: most gradient steps per sample.
        l1: weight of the L1 distance to the input (0: minimality from stopping alone).
        bounds: the valid pixel range ``(low, high)``, or None for unbounded inputs (e.g.
            images standardised with a mean and a standard deviation).
        outputs, batch_size, progress, seed: see :class:`Explainer`.
    """

    name = "pixel_attack"

    def __init__(
        self,
        classifier: Classifier,
        lr: float = 0.01,
        tau: float | None = 0.5,
        max_steps: int = 1000,
        l1: float = 0.0,
        bounds: tuple[float, float] | None = (0.0, 1.0),
        outputs: Outputs = "logits",
        batch_size: int = 256,
        progress: bool = False,
        seed: int | None = 0,
    ) -> None:
        super().__init__(classifier, None, outputs, batch_size, progress, seed)
        check_positive(lr=lr)
        check_tau(tau)
        if max_steps < 0 or l1 < 0:
            raise ValueError(f"max_steps and l1 must be >= 0; got {max_steps}, {l1}")
        if bounds is not None and not (len(bounds) == 2 and bounds[0] < bounds[1]):
            raise ValueError(f"bounds must be (low, high) with low < high, or None; got {bounds}")
        self.lr = lr
        self.tau = tau
        self.max_steps = max_steps
        self.l1 = l1
        self.bounds = None if bounds is None else (float(bounds[0]), float(bounds[1]))

    def explain_batch(
        self, x: Tensor, target: Tensor, probs: Tensor, cost: Cost
    ) -> dict[str, Tensor]:
        start = x if self.bounds is None else x.clamp(*self.bounds)

        def evaluate(rows: Tensor, index: Tensor) -> tuple[Tensor, Tensor, Tensor]:
            outputs = self.classifier_outputs(rows, cost)
            logp = log_probs(outputs, self.outputs)
            loss = -logp.gather(1, target[index].unsqueeze(1)).squeeze(1)
            if self.l1:
                dist = (rows - x[index]).abs().flatten(1).mean(dim=1)
                loss = loss + self.l1 * dist.to(loss.dtype)
            return rows, as_probs(outputs, self.outputs), loss

        def project(var: Tensor) -> None:
            if self.bounds is not None:
                var.clamp_(*self.bounds)

        result = descend(
            start,
            evaluate,
            lambda params: torch.optim.Adam(params, lr=self.lr),
            self.max_steps,
            cost,
            "PixelAttack",
            stop=None if self.tau is None else reached(target, self.tau),
            project=project,
        )
        return {"x_cf": result.images, "probs_cf": result.probs, "steps": result.steps}


__all__ = ["PixelAttack"]
