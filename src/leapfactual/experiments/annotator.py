"""Annotator in the loop (METHOD.md 4, 5.4): the flow follows any labelling callable.

CE-CFM conditions the flow on the outputs of whatever labels the decoded latents. Here that
is an *annotator* (a rule, a black-box function, another model, a human proxy) instead of
the classifier a run explains; LeapFactual then needs only the annotator's outputs, so its
counterfactuals follow the annotator. :class:`leapfactual.data.ThicknessRule` is a
non-differentiable annotator (stroke thickness, logits out) that disagrees with any digit
classifier.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from leapfactual.experiments._shared import LEAN, fit_flow, latents_and_recon
from leapfactual.explain import Blend, Inject, LeapFactual, as_probs
from leapfactual.explain.base import Outputs
from leapfactual.flow import MLPField
from leapfactual.models.protocols import Codec
from leapfactual.pipeline import FitConfig


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
    cfg: FitConfig = LEAN,
    seed: int = 0,
    outputs: Outputs = "probs",
) -> MLPField:
    """A CE-CFM flow on the latents of ``images`` conditioned on the annotator's outputs on
    their decodings (softmax encoding), exactly as a run's flow is on its classifier's."""
    z, recon = latents_and_recon(vae, images)  # type: ignore[arg-type]
    return fit_flow(annotate(annotator, recon, outputs), z, cfg, seed)


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


__all__ = ["annotate", "annotator_explainer", "fit_annotator_flow"]
