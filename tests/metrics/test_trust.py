import pytest
import torch
from torch import Tensor

from leapfactual.metrics import (
    add_noise,
    blur,
    collapsed,
    robustness,
)
from leapfactual.models import IdentityCodec


def left_or_right(x: Tensor) -> Tensor:
    """Class 1 when the right half is brighter than the left (logits [B, 2])."""
    half = x.shape[-1] // 2
    d = x[..., half:].mean((1, 2, 3)) - x[..., :half].mean((1, 2, 3))
    return torch.stack([-d, d], dim=1) * 50


def one_pixel(x: Tensor) -> Tensor:
    """Class 1 when pixel (0, 5, 5) exceeds 0.5: an adversarial-looking reader."""
    p = x[:, 0, 5, 5]
    return torch.stack([0.5 - p, p - 0.5], dim=1) * 50


def halves(n: int, right: bool) -> Tensor:
    x = torch.zeros(n, 1, 12, 12)
    if right:
        x[..., 6:] = 0.8
    else:
        x[..., :6] = 0.8
    return x


def test_blur_keeps_flat_images_and_noise_is_seeded() -> None:
    flat = torch.full((2, 3, 8, 8), 0.4)
    assert torch.allclose(blur(flat), flat, atol=1e-6)
    spike = torch.zeros(1, 1, 9, 9)
    spike[0, 0, 4, 4] = 1
    assert float(blur(spike)[0, 0, 4, 4]) < 0.2  # one pixel is spread out
    x = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    assert torch.equal(add_noise(x, seed=3), add_noise(x, seed=3))
    assert not torch.equal(add_noise(x, seed=3), add_noise(x, seed=4))
    with pytest.raises(ValueError, match="blur sigma must be a finite number > 0"):
        blur(x, float("nan"))


def test_robust_validity_fires_on_a_one_pixel_change_and_not_on_a_real_one() -> None:
    inputs = torch.zeros(4, 1, 12, 12)
    target = torch.ones(4, dtype=torch.long)
    pixel = inputs.clone()
    pixel[:, 0, 5, 5] = 1.0  # flips the one-pixel reader; a blur undoes it
    fragile = robustness(one_pixel, pixel, target, codec=IdentityCodec())
    assert bool(fragile.valid.all()) and not bool(fragile.robust.any())
    assert fragile.summary()["kept_after_blur"] == 0.0
    assert fragile.summary()["kept_after_round_trip"] == 1.0  # the identity keeps everything
    real = robustness(left_or_right, halves(4, right=True), target, codec=IdentityCodec())
    assert bool(real.robust.all()) and real.summary()["robust_validity"] == 1.0


def test_robust_validity_of_a_regressor_uses_its_tolerance() -> None:
    def brightness(x: Tensor) -> Tensor:
        return x.mean((1, 2, 3))[:, None]

    x = torch.full((3, 1, 8, 8), 0.5)
    out = robustness(brightness, x, torch.tensor([0.5, 0.5, 0.9]), outputs="value", tolerance=0.1)
    assert out.robust.tolist() == [True, True, False]


def test_collapse_fires_on_one_smear_for_all_inputs_and_not_on_distinct_ces() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(6, 1, 12, 12, generator=g)
    target = torch.tensor([1, 1, 1, 0, 0, 0])
    smear = torch.full_like(x, 0.3)
    assert bool(collapsed(smear, x, target).all())
    near_inputs = (x + 0.02 * torch.rand(x.shape, generator=g)).clamp(0, 1)
    assert not bool(collapsed(near_inputs, x, target).any())
    repeated = x[:1].expand(6, -1, -1, -1)  # one input's CEs: never compared with each other
    assert not bool(collapsed(smear, repeated, target).any())
