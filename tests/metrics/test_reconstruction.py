import math

import pytest
import torch
from torch import Tensor, nn

from leapfactual.metrics import psnr, ssim
from leapfactual.metrics.reconstruction import codec_quality
from leapfactual.models import IdentityCodec


class Darken(nn.Module):
    """A codec that halves every pixel (its latent is the image)."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(0.5))

    def encode(self, x: Tensor) -> Tensor:
        return x * self.scale

    def decode(self, z: Tensor) -> Tensor:
        return z


def bright(x: Tensor) -> Tensor:
    """Class 1 when the mean pixel exceeds 0.3, else class 0 (logits [B, 2])."""
    m = x.flatten(1).mean(1, keepdim=True)
    return torch.cat([0.3 - m, m - 0.3], dim=1)


@pytest.fixture
def images() -> Tensor:
    return torch.rand(10, 3, 12, 12, generator=torch.Generator().manual_seed(0))


def test_psnr_ssim_and_agreement_match_their_definitions(images: Tensor) -> None:
    codec = Darken().train()
    labels = torch.tensor([1] * 5 + [0] * 5)
    out = codec_quality(codec, images, bright, labels, batch_size=3)
    half = images * 0.5
    assert out["psnr"] == pytest.approx(float(psnr(half, images).mean()), rel=1e-6)
    assert out["ssim"] == pytest.approx(float(ssim(half, images).mean()), rel=1e-6)
    assert out["agreement"] == 0.0  # every image is bright (mean ~0.5), every darkened one not
    assert out["accuracy"] == 0.5
    assert codec.training  # modes put back
    assert out["chance_agreement"] == 0.0  # always class 1 on images, always 0 on the darker
    alone = codec_quality(codec, images, batch_size=256)
    assert alone == {k: out[k] for k in ("psnr", "ssim", "variance_kept")}


def test_variance_kept_is_one_for_a_perfect_codec_and_zero_for_the_mean_image(
    images: Tensor,
) -> None:
    class Mean(nn.Module):
        def encode(self, x: Tensor) -> Tensor:
            return x

        def decode(self, z: Tensor) -> Tensor:
            return images.mean(0, keepdim=True).expand_as(z)

    assert codec_quality(IdentityCodec(), images)["variance_kept"] == pytest.approx(1.0)
    assert codec_quality(Mean(), images, batch_size=3)["variance_kept"] == pytest.approx(
        0, abs=1e-6
    )
    spread = float((images - images.mean(0)).pow(2).sum())
    expected = 1 - float((images * 0.5).pow(2).sum()) / spread
    assert codec_quality(Darken(), images)["variance_kept"] == pytest.approx(expected, rel=1e-5)


def test_identity_codec_is_perfect_and_uint8_is_scaled(images: Tensor) -> None:
    out = codec_quality(IdentityCodec(), (images * 255).round().to(torch.uint8), bright)
    assert out["psnr"] == math.inf and out["ssim"] == pytest.approx(1.0)
    assert out["agreement"] == 1.0 and "accuracy" not in out


def test_small_images_have_no_ssim() -> None:
    out = codec_quality(IdentityCodec(), torch.rand(4, 1, 8, 8))
    assert math.isnan(out["ssim"]) and out["psnr"] == math.inf


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"images": torch.rand(0, 1, 12, 12)}, "non-empty tensor"),
        ({"images": torch.rand(3, 12, 12)}, r"\[N, C, H, W\]"),
        ({"labels": torch.zeros(4, dtype=torch.long)}, "without a classifier"),
        ({"classifier": bright, "labels": torch.zeros(3)}, "integer class indices"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"outputs": "scores"}, "unknown classifier output kind 'scores'"),
    ],
)
def test_bad_arguments(kwargs: dict, match: str) -> None:
    args = {"codec": IdentityCodec(), "images": torch.rand(4, 1, 12, 12), **kwargs}
    with pytest.raises(ValueError, match=match):
        codec_quality(**args)


def test_non_finite_reconstructions_are_refused() -> None:
    class Broken(IdentityCodec):
        def decode(self, z: Tensor) -> Tensor:
            return z * math.nan

    with pytest.raises(ValueError, match="reconstructions hold NaN or inf"):
        codec_quality(Broken(), torch.rand(2, 1, 12, 12))
