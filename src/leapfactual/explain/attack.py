"""Counterfactual attacks in latent space (Goldwasser & Hooker, docs/method.md §7)."""

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
from leapfactual.explain.base import Explainer, Outputs, as_probs, log_probs
from leapfactual.explain.explanation import Cost
from leapfactual.models import Classifier, Codec


class LatentAttack(Explainer):
    """Adam on the latent to raise ``log p(y' | g(z))``, stopping each sample as soon as
    ``p(y') > tau``.

    There is no distance term: minimality comes only from stopping early. The stopping rule
    is checked before every step, per sample; a sample that meets it keeps the latent it had
    then (``steps`` records how many gradient steps it took, 0 if it already met the rule) and
    is not evaluated or moved again, whatever the rest of its batch does. Samples that never
    reach ``tau`` return their latent after ``max_steps`` steps. Needs gradients of the
    classifier and the decoder; their parameters are never changed. A regressor
    (``outputs="value"``) is attacked by the squared error towards the wanted value, a sample
    stopping once within ``2 (1 - tau) * tolerance`` of it (the tolerance at ``tau = 0.5``).

    Args:
        classifier: differentiable torch model images -> outputs ``[B, K]``.
        codec: ``encode`` / ``decode`` of the generative model (``decode`` differentiable).
        lr: Adam learning rate (the paper's range 0.01-0.1; 0.05 by default).
        tau: probability of the target at which a sample stops (the paper's range 0.5-0.75;
            0.5, the smallest change that makes the target the most likely class).
        max_steps: most gradient steps per sample (the paper's range 500-5000).
        outputs, batch_size, progress, seed, tolerance: see :class:`Explainer`.
    """

    name = "latent_attack"
    regression = True

    def __init__(
        self,
        classifier: Classifier,
        codec: Codec,
        lr: float = 0.05,
        tau: float = 0.5,
        max_steps: int = 1000,
        outputs: Outputs = "logits",
        batch_size: int = 256,
        progress: bool = False,
        seed: int | None = 0,
        tolerance: float | None = None,
    ) -> None:
        if codec is None:
            raise ValueError(
                "LatentAttack works in a latent space: give a codec (encode / decode); "
                "PixelAttack attacks the pixels"
            )
        super().__init__(classifier, codec, outputs, batch_size, progress, seed, tolerance)
        check_positive(lr=lr)
        check_tau(tau)
        if max_steps < 0:
            raise ValueError(f"max_steps must be >= 0, got {max_steps}")
        self.lr = lr
        self.tau = tau
        self.max_steps = max_steps

    def explain_batch(
        self, x: Tensor, target: Tensor, probs: Tensor, cost: Cost
    ) -> dict[str, Tensor]:
        with torch.no_grad():
            z = self.encode(x, cost)

        def evaluate(rows: Tensor, index: Tensor) -> tuple[Tensor, Tensor, Tensor]:
            images = self.decode(rows, cost)
            outputs = self.classifier_outputs(images, cost)
            if self.outputs == "value":
                values = as_probs(outputs, "value")
                return images, values, squared_error(values, target[index])
            logp = log_probs(outputs, self.outputs)
            loss = -logp.gather(1, target[index].unsqueeze(1)).squeeze(1)
            return images, as_probs(outputs, self.outputs), loss

        result = descend(
            z,
            evaluate,
            lambda params: torch.optim.Adam(params, lr=self.lr),
            self.max_steps,
            cost,
            "LatentAttack",
            stop=target_met(target, self.tau, self.tolerance),
        )
        return {
            "z": z,
            "z_cf": result.var,
            "x_cf": result.images,
            "probs_cf": result.probs,
            "steps": result.steps,
        }


__all__ = ["LatentAttack"]
