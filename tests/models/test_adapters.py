"""Adapters for what users bring: HF-style classifier outputs and diffusers-style codecs."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from torch import Tensor, nn

from leapfactual.explain import OptBased
from leapfactual.models.adapters import (
    DiffusersCodec,
    FlatLatents,
    TensorOutputs,
    adapt_classifier,
    as_tensor_outputs,
)


@dataclass
class ImageClassifierOutput:
    """Like Hugging Face's: a dataclass with ``.logits`` (transformers not required)."""

    logits: Tensor
    hidden_states: tuple[Tensor, ...] | None = None


class HFStyleClassifier(nn.Module):
    """A 2-layer CNN on 3x16x16 images returning an ``ImageClassifierOutput``."""

    input_range = (0.0, 1.0)

    def __init__(self, classes: int = 3) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.head = nn.Linear(4 * 8 * 8, classes)

    def forward(self, x: Tensor) -> ImageClassifierOutput:
        return ImageClassifierOutput(logits=self.head(self.conv(x).relu().flatten(1)))


class TupleClassifier(HFStyleClassifier):
    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        return (super().forward(x).logits, x)


class FlatCodec:
    """Identity codec on flattened 3x16x16 images."""

    def encode(self, x: Tensor) -> Tensor:
        return x.flatten(1)

    def decode(self, z: Tensor) -> Tensor:
        return z.reshape(-1, 3, 16, 16).clamp(0, 1)


class TupleCodec(FlatCodec):
    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        return (x.flatten(1), x.flatten(1))


@pytest.fixture
def images() -> Tensor:
    return torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))


def test_as_tensor_outputs_accepts_tensors_and_logits():
    logits = torch.randn(2, 3)
    assert as_tensor_outputs(logits) is logits
    assert as_tensor_outputs(ImageClassifierOutput(logits=logits)) is logits
    assert as_tensor_outputs({"logits": logits}) is logits


@pytest.mark.parametrize(
    ("out", "where", "pattern"),
    [
        (
            (torch.zeros(2, 3), 1),
            "classifier",
            r"classifier returned 2 outputs, not one Tensor: \[0\] \(2, 3\), \[1\] \(int\); "
            r"choose the one you mean: lambda x: model\(x\)\[INDEX\]",
        ),
        ([torch.zeros(2, 3)], "classifier", r"returned list of 1 items.*\[B, K\]"),
        ("text", "classifier", r"returned str, not a Tensor.*<the Tensor attribute>"),
        (
            {"sample": torch.zeros(1)},
            "codec.decode",
            r"dict \(with \.sample\).*DiffusersCodec.*\.sample",
        ),
    ],
)
def test_as_tensor_outputs_names_type_and_fix_in_one_line(out, where, pattern):
    with pytest.raises(ValueError, match=pattern) as err:
        as_tensor_outputs(out, where)
    assert "\n" not in str(err.value)


def test_adapted_module_keeps_module_behaviour_and_gradients(images):
    model = HFStyleClassifier()
    wrapped = adapt_classifier(model)
    assert isinstance(wrapped, TensorOutputs) and adapt_classifier(wrapped) is wrapped
    assert list(wrapped.parameters()) == list(model.parameters())
    assert wrapped.input_range == (0.0, 1.0)
    wrapped.eval()
    assert not model.training and not wrapped.training
    wrapped.to(torch.float64)
    assert model.head.weight.dtype == torch.float64
    x = images.double().requires_grad_()
    out = wrapped(x)
    assert isinstance(out, Tensor) and out.shape == (2, 3)
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_adapted_function_and_non_callable(images):
    model = HFStyleClassifier()
    function = adapt_classifier(lambda x: model(x))
    assert not isinstance(function, nn.Module)
    torch.testing.assert_close(function(images), model(images).logits)
    with pytest.raises(ValueError, match=r"must be callable.*got int"):
        adapt_classifier(3)  # type: ignore[arg-type]


def test_hf_style_classifier_works_with_an_explainer(images):
    model = HFStyleClassifier()
    explanation = OptBased(model, FlatCodec(), steps=2).explain(images, target=1)
    assert explanation.probs.shape == (2, 3)
    torch.testing.assert_close(explanation.probs, model(images).logits.softmax(1))
    assert explanation.x_cf.shape == images.shape


def test_explainer_errors_for_tuple_outputs(images):
    with pytest.raises(ValueError, match=r"returned 2 outputs, not one.*\[0\] \(2, 3\), \[1\]"):
        OptBased(TupleClassifier(), FlatCodec(), steps=1).explain(images, target=1)
    with pytest.raises(ValueError, match=r"codec\.encode returned 2 outputs.*DiffusersCodec"):
        OptBased(HFStyleClassifier(), TupleCodec(), steps=1).explain(images, target=1)


def test_flat_latents_restore_shape_and_check_sizes():
    class Pool:
        def encode(self, x: Tensor) -> Tensor:
            return nn.functional.avg_pool2d(x, 2)

        def decode(self, z: Tensor) -> Tensor:
            return nn.functional.interpolate(z, scale_factor=2)

    codec = FlatLatents(Pool())
    with pytest.raises(ValueError, match=r"before the latent shape is known.*latent_shape"):
        codec.decode(torch.zeros(2, 12))
    x = torch.rand(2, 3, 8, 8)
    z = codec.encode(x)
    assert z.shape == (2, 48) and codec.latent_shape == (3, 4, 4) and codec.latent_dim == 48
    assert codec.decode(z).shape == (2, 3, 8, 8)
    with pytest.raises(ValueError, match=r"decode got latents of shape \(2, 47\).*\[B, 48\]"):
        codec.decode(z[:, :47])
    with pytest.raises(ValueError, match=r"shape \(3, 8, 8\).*\(3, 4, 4\)"):
        codec.encode(torch.rand(2, 3, 16, 16))
    with pytest.raises(ValueError, match=r"encode\(x\) -> z"):
        FlatLatents(object())


@pytest.fixture
def vae():
    diffusers = pytest.importorskip("diffusers")
    torch.manual_seed(0)
    return diffusers.AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        block_out_channels=(8, 16),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=4,
        sample_size=16,
    ).eval()


def test_diffusers_codec_round_trip(vae, images):
    codec = DiffusersCodec(vae)
    assert isinstance(codec, nn.Module) and codec.input_range == (0.0, 1.0)
    with torch.no_grad():
        z = codec.encode(images)
        x = codec.decode(z)
        mean = vae.encode(images * 2 - 1).latent_dist.mean
    assert z.shape == (2, 4 * 8 * 8) and codec.latent_shape == (4, 8, 8)
    torch.testing.assert_close(z, (mean * vae.config.scaling_factor).flatten(1))
    assert x.shape == images.shape and x.min() >= 0 and x.max() <= 1
    with pytest.raises(ValueError, match=r"\[B, 256\] \(= \(4, 8, 8\)\)"):
        codec.decode(torch.zeros(2, 100))


def test_diffusers_codec_sampling_shape_and_dtype(vae, images):
    codec = DiffusersCodec(vae, sample=True, latent_shape=(4, 8, 8))
    with torch.no_grad():
        assert codec.decode(torch.zeros(1, 256)).shape == (1, 3, 16, 16)
        first, second = codec.encode(images), codec.encode(images)
    assert first.shape == (2, 256) and not torch.equal(first, second)
    codec.to(torch.float64)
    assert next(vae.parameters()).dtype == torch.float64
    with torch.no_grad():
        assert codec.encode(images).dtype == torch.float32  # back in the input's dtype


def test_diffusers_codec_with_an_explainer(vae, images):
    explanation = OptBased(HFStyleClassifier(), DiffusersCodec(vae), steps=2).explain(images, 2)
    assert explanation.x_cf.shape == images.shape
    assert explanation.x_cf.min() >= 0 and explanation.x_cf.max() <= 1
