"""A model that returns NaN or infinity stops the explainer with an error naming the model and
the step, instead of NaN counterfactuals that look valid."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from leapfactual.explain import LeapFactual
from leapfactual.explain.registry import build_explainer


class Broken:
    """A codec whose decoder returns infinity from its ``after``-th call on."""

    def __init__(self, vae: torch.nn.Module, after: int) -> None:
        self.vae, self.after, self.calls = vae, after, 0

    def encode(self, x: Tensor) -> Tensor:
        return self.vae.encode(x)

    def decode(self, z: Tensor) -> Tensor:
        self.calls += 1
        out = self.vae.decode(z)
        return out.fill_(math.inf) if self.calls > self.after else out


def test_a_nan_classifier_is_named_on_the_inputs(tiny_run) -> None:
    x = tiny_run.test.images[:3]

    def nan_for_the_second(images: Tensor) -> Tensor:
        out = tiny_run.classifier(images)
        out[1] = math.nan
        return out

    explainer = LeapFactual(nan_for_the_second, tiny_run.vae, tiny_run.flow, inject=None)
    with pytest.raises(
        ValueError,
        match=r"the classifier \(function\) returned NaN or infinite values for 1 of 3 samples "
        r"\(batch indices \[1\]\) while classifying the inputs \(leapfactual\)",
    ):
        explainer.explain(x, 1)


@pytest.mark.parametrize("method", ["leapfactual", "opt", "latent_attack", "reflection"])
def test_a_decoder_that_overflows_is_named_in_every_method(tiny_run, method: str) -> None:
    models = tiny_run.models()
    models.codec = Broken(tiny_run.vae, after=1)
    with pytest.raises(ValueError, match=rf"the decoder \(Broken\) returned NaN .* in {method}"):
        explainer, _ = build_explainer(method, models, batch_size=4)  # the reflection decodes
        explainer.explain(tiny_run.test.images[:2], 1)


def test_finite_models_are_unchanged(tiny_run) -> None:
    exp = tiny_run.explainer(inject=None).explain(tiny_run.test.images[:2], 1)
    assert torch.isfinite(exp.x_cf).all() and torch.isfinite(exp.probs_cf).all()
