"""Annotator in the loop (docs/method.md §5, §6.4): the flow follows any labelling callable.

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
from torch import Tensor, nn

from leapfactual.explain import (
    Blend,
    Inject,
    LeapFactual,
    Models,
    Outputs,
    as_probs,
    build_explainer,
)
from leapfactual.flow import VectorField
from leapfactual.models import Codec
from leapfactual.pipeline import FlowSettings, condition_images, encode_decode, fit_flow


@torch.no_grad()
def annotate(
    annotator: Callable[[Tensor], Tensor], images: Tensor, outputs: Outputs, batch: int = 512
) -> Tensor:
    """The annotator's probabilities ``[N, K]`` on ``images`` (batched)."""
    return torch.cat(
        [as_probs(annotator(images[i : i + batch]), outputs) for i in range(0, len(images), batch)]
    )


def fit_annotator_flow(
    vae: Codec | nn.Module,
    annotator: Callable[[Tensor], Tensor],
    images: Tensor,
    settings: FlowSettings = FlowSettings(),
    seed: int = 0,
    outputs: Outputs = "probs",
    device: str | torch.device | None = None,
) -> VectorField:
    """A CE-CFM flow on the latents of ``images`` conditioned on the annotator's outputs on
    their decodings or on ``images`` (``settings.condition_on``), encoded as
    ``settings.condition`` says, exactly as a run's flow is on its classifier's
    (:func:`leapfactual.pipeline.fit_flow`)."""
    z, recon = encode_decode(vae, images)
    probs = annotate(annotator, condition_images(settings, images, recon), outputs)
    return fit_flow(z, probs, settings, seed, device=device)


def annotator_explainer(
    annotator: Callable[[Tensor], Tensor],
    vae: Codec | nn.Module,
    field: VectorField,
    outputs: Outputs = "probs",
    blend: Blend = Blend(),
    inject: Inject | None = Inject(),
    batch_size: int = 512,
) -> LeapFactual:
    """LeapFactual whose classifier is the annotator (only its outputs are used)."""
    models = Models(annotator, vae, field, outputs=outputs)
    explainer, _ = build_explainer(
        "leapfactual", models, blend=blend, inject=inject, batch_size=batch_size
    )
    return explainer  # type: ignore[return-value]


__all__ = ["annotate", "annotator_explainer", "fit_annotator_flow"]
