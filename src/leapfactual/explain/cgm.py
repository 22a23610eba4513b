"""CGM-based counterfactuals: swap the condition of a conditional VAE (docs/method.md §7)."""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

import torch
from torch import Tensor

from leapfactual.explain.base import Explainer, Outputs, model_errors
from leapfactual.explain.explanation import Cost
from leapfactual.models import Classifier


@runtime_checkable
class ConditionalCodec(Protocol):
    """A conditional generative model: ``encode(x, cond) -> z`` and ``decode(z, cond) -> x``,
    where ``cond`` is a probability vector ``[B, K]`` over the classifier's classes."""

    def encode(self, x: Tensor, cond: Tensor) -> Tensor: ...

    def decode(self, z: Tensor, cond: Tensor) -> Tensor: ...


class CGMBased(Explainer):
    """One-shot counterfactuals from a conditional VAE trained on the classifier's outputs.

    ``z = cvae.encode(x, c)`` with ``c`` the classifier's softmax on ``x`` (the condition the
    cVAE was trained with), then ``x' = cvae.decode(z, onehot(y'))``: the latent keeps what
    the condition does not explain (style), the condition is replaced by the target.
    Gradient-free: the classifier may be any callable.

    Args:
        classifier: callable images -> outputs ``[B, K]`` (the model the cVAE was trained on).
        cvae: the conditional codec (e.g. :class:`leapfactual.models.ConditionalVAE`).
        condition: how the source condition is made from the classifier's output:
            ``"softmax"`` (the paper) or ``"onehot"`` of its argmax, for a cVAE trained on
            hard labels. The target is always one-hot.
        outputs, batch_size, progress, seed: see :class:`Explainer`. The seed makes a cVAE
            whose ``encode`` samples (rather than returning the mean) reproducible.
    """

    name = "cgm"

    def __init__(
        self,
        classifier: Classifier,
        cvae: ConditionalCodec,
        condition: Literal["softmax", "onehot"] = "softmax",
        outputs: Outputs = "logits",
        batch_size: int = 256,
        progress: bool = False,
        seed: int | None = 0,
    ) -> None:
        super().__init__(classifier, None, outputs, batch_size, progress, seed)
        if not all(callable(getattr(cvae, name, None)) for name in ("encode", "decode")):
            raise ValueError(
                "cvae must have encode(x, cond) -> z and decode(z, cond) -> x methods, got "
                f"{type(cvae).__name__}"
            )
        if condition not in ("softmax", "onehot"):
            raise ValueError(f"condition must be 'softmax' or 'onehot', got {condition!r}")
        self.cvae = cvae
        self.condition = condition

    @torch.no_grad()
    def explain_batch(
        self, x: Tensor, target: Tensor, probs: Tensor, cost: Cost
    ) -> dict[str, Tensor]:
        num_classes = probs.shape[1]
        if self.condition == "softmax":
            source = probs.to(x.dtype)
        else:
            source = torch.nn.functional.one_hot(probs.argmax(dim=1), num_classes).to(x.dtype)
        goal = torch.nn.functional.one_hot(target, num_classes).to(x.dtype)
        cost.encoder += len(x)
        with model_errors("cVAE encoder", x):
            z = self.cvae.encode(x, source)
        cost.decoder += len(z)
        with model_errors("cVAE decoder", z):
            x_cf = self.cvae.decode(z, goal)
        if x_cf.shape != x.shape:
            raise ValueError(
                f"the cVAE decoded images of shape {tuple(x_cf.shape)} for inputs of shape "
                f"{tuple(x.shape)}; its decoder must return images shaped like its inputs"
            )
        return {
            "z": z,
            "z_cf": z.clone(),
            "x_cf": x_cf,
            "probs_cf": self.classify(x_cf, cost),
            "steps": torch.ones(len(x), dtype=torch.long, device=x.device),
        }


__all__ = ["CGMBased", "ConditionalCodec"]
