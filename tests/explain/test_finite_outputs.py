"""A model that returns NaN or infinity stops the explainer with an error naming the model and
the step, instead of NaN counterfactuals that look valid."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from leapfactual.explain import Explanation, LeapFactual
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


def nan_on(image: Tensor, classifier):
    """``classifier`` returning NaN for every copy of ``image`` (wherever it is in a batch)."""

    def classify(images: Tensor) -> Tensor:
        out = classifier(images)
        hit = (images == image).flatten(1).all(dim=1)
        return torch.where(hit[:, None], torch.full_like(out, math.nan), out)

    return classify


def test_invalid_mode_marks_counts_and_keeps_the_others(tiny_run, tmp_path) -> None:
    x = tiny_run.test.images[:4]
    broken = nan_on(x[1], tiny_run.classifier)
    explainer = LeapFactual(broken, tiny_run.vae, tiny_run.flow, inject=None, batch_size=2)
    exp = explainer.set_nonfinite("invalid").explain(x, 1)
    assert exp.nonfinite is not None and exp.nonfinite.tolist() == [False, True, False, False]
    assert torch.equal(exp.x_cf[1], x[1]) and not bool(exp.valid[1])
    assert all(torch.isfinite(t).all() for t in exp.tensors().values() if t.is_floating_point())
    clean = LeapFactual(tiny_run.classifier, tiny_run.vae, tiny_run.flow, inject=None)
    same = clean.explain(x[[0, 2, 3]], 1)
    assert torch.allclose(exp.x_cf[[0, 2, 3]], same.x_cf, atol=1e-5)
    assert torch.equal(exp.valid[[0, 2, 3]], same.valid)
    assert exp.summary()["nonfinite"] == 1 and exp.config["nonfinite"] == "invalid"
    exp.save(tmp_path)
    back = Explanation.load(tmp_path)
    assert back.nonfinite is not None and torch.equal(back.nonfinite, exp.nonfinite)
    assert torch.equal(back.valid, exp.valid)
    with pytest.raises(ValueError, match=r"nonfinite must be one of error, invalid \(what"):
        explainer.set_nonfinite("skip")


def test_invalid_mode_catches_an_overflow_in_the_search(tiny_run) -> None:
    broken = Broken(tiny_run.vae, after=1)  # the first decode (of the inputs) is finite
    explainer = LeapFactual(tiny_run.classifier, broken, tiny_run.flow, inject=None)
    x = tiny_run.test.images[:3]
    exp = explainer.set_nonfinite("invalid").explain(x, 1)
    assert exp.nonfinite is not None and bool(exp.nonfinite.all())
    assert torch.equal(exp.x_cf, x) and not bool(exp.valid.any())
    assert torch.isfinite(exp.probs_cf).all() and exp.z_cf is not None
    assert torch.isfinite(exp.z_cf).all()


class Healing:
    """A classifier that turns a non-finite image into finite outputs (``nan_to_num``): a check
    of the CE alone, at the end, would miss that the search ran on such an image."""

    def __init__(self, classifier) -> None:  # type: ignore[no-untyped-def]
        self.classifier = classifier

    def __call__(self, images: Tensor) -> Tensor:
        return self.classifier(images.nan_to_num(0.0, 1.0, 0.0))


class Once(Broken):
    """A decoder whose ``at``-th call alone returns infinity for the rows in ``rows``."""

    def __init__(self, vae: torch.nn.Module, at: int, rows: list[int]) -> None:
        super().__init__(vae, after=10**9)
        self.at, self.rows = at, rows

    def decode(self, z: Tensor) -> Tensor:
        out = super().decode(z)
        if self.calls == self.at:
            out[self.rows] = math.inf
        return out


def test_a_passing_overflow_in_the_search_is_caught_with_the_per_call_error(tiny_run) -> None:
    x = tiny_run.test.images[:4]
    codec = Once(tiny_run.vae, at=4, rows=[1, 3])  # the third leap; the next decode is finite
    explainer = LeapFactual(Healing(tiny_run.classifier), codec, tiny_run.flow, inject=None)
    with pytest.raises(ValueError) as caught:
        explainer.explain(x, 1)
    assert str(caught.value) == (
        "the decoder (Once) returned NaN or infinite values for 2 of 4 samples (batch indices "
        "[1, 3]) while decoding in leapfactual's search; its weights may be damaged (NaN) or "
        "it overflows on these inputs. Check the model on them; no counterfactual was made "
        "from non-finite outputs."
    )
    exp = LeapFactual(
        Healing(tiny_run.classifier), Once(tiny_run.vae, at=0, rows=[]), tiny_run.flow, inject=None
    ).explain(x, 1)
    assert torch.isfinite(exp.x_cf).all()  # the good case: nothing raised


def test_the_earliest_non_finite_output_is_named(tiny_run) -> None:
    x = tiny_run.test.images[:3]
    calls = {"n": 0}

    def nan_on_the_third_call(images: Tensor) -> Tensor:  # the inputs, the start, leap 1
        calls["n"] += 1
        out = tiny_run.classifier(images)
        return out.fill_(math.nan) if calls["n"] == 3 else out

    codec = Once(tiny_run.vae, at=3, rows=[0])  # leap 2's decode, after the classifier's NaN
    explainer = LeapFactual(nan_on_the_third_call, codec, tiny_run.flow, inject=None)
    with pytest.raises(ValueError, match=r"the classifier \(function\) returned NaN .* for 3 of 3"):
        explainer.explain(x, 1)
