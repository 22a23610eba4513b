"""Annotator in the loop (METHOD.md 4, 5.4): the flow follows any labelling callable.

CE-CFM conditions the flow on the outputs of whatever labels the decoded latents. Here that
is an *annotator* (a rule, a black-box function, another model, a human proxy) instead of
the classifier a run explains; LeapFactual then needs only the annotator's outputs, so its
counterfactuals follow the annotator. :class:`ThicknessRule` is a non-differentiable
annotator (Morpho-MNIST stroke thickness) that disagrees with any digit classifier.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from leapfactual.experiments._shared import ModelConfig, fit_flow, latents_and_recon
from leapfactual.explain import Blend, Inject, LeapFactual, as_probs
from leapfactual.explain.base import Outputs
from leapfactual.flow import MLPField
from leapfactual.models.protocols import Codec
from leapfactual.morpho import measure


@dataclass(frozen=True)
class ThicknessRule:
    """Annotator: class 1 ("thick") when the measured stroke thickness exceeds ``threshold``
    pixels, else 0 ("thin"); returns one-hot probabilities ``[B, 2]`` (use ``outputs="probs"``).
    Empty images count as thin."""

    threshold: float

    def __call__(self, images: Tensor) -> Tensor:
        t = np.nan_to_num(measure(images.detach().cpu())["thickness"], nan=0.0)
        thick = torch.as_tensor(t > self.threshold, dtype=torch.long, device=images.device)
        return torch.nn.functional.one_hot(thick, 2).float()


@torch.no_grad()
def annotate(
    annotator: Callable[[Tensor], Tensor], images: Tensor, outputs: Outputs, batch: int = 512
) -> Tensor:
    """The annotator's probabilities ``[N, K]`` on ``images`` (batched)."""
    return torch.cat(
        [as_probs(annotator(images[i : i + batch]), outputs) for i in range(0, len(images), batch)]
    )


def fit_annotator_flow(
    vae: Codec,
    annotator: Callable[[Tensor], Tensor],
    images: Tensor,
    cfg: ModelConfig | None = None,
    seed: int = 0,
    outputs: Outputs = "probs",
) -> MLPField:
    """A CE-CFM flow on the latents of ``images`` conditioned on the annotator's outputs on
    their decodings (softmax encoding), exactly as a run's flow is on its classifier's."""
    cfg = cfg if cfg is not None else ModelConfig()
    z, recon = latents_and_recon(vae, images)  # type: ignore[arg-type]
    return fit_flow(vae, annotate(annotator, recon, outputs), z, cfg, seed)  # type: ignore[arg-type]


def annotator_explainer(
    annotator: Callable[[Tensor], Tensor],
    vae: Codec,
    field: MLPField,
    outputs: Outputs = "probs",
    blend: Blend = Blend(),
    inject: Inject | None = Inject(),
    batch_size: int = 512,
) -> LeapFactual:
    """LeapFactual whose classifier is the annotator (only its outputs are used)."""
    return LeapFactual(annotator, vae, field, blend, inject, outputs=outputs, batch_size=batch_size)


__all__ = ["ThicknessRule", "annotate", "annotator_explainer", "fit_annotator_flow"]
