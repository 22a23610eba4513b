from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from leapfactual.data.shapes import colour_shapes
from leapfactual.io import load_module, save_module
from leapfactual.metrics import psnr
from leapfactual.models import Codec, train_vae
from leapfactual.models.resvae import MNIST_PIXEL_VAR, ResVAE


@pytest.mark.parametrize(("channels", "size"), [(3, 32), (1, 28), (3, 64), (1, 8), (3, 37)])
def test_shapes_range_and_deterministic_encoding(channels: int, size: int) -> None:
    torch.manual_seed(0)
    vae = ResVAE(channels, size, latent_dim=8, width=4)
    x = torch.rand(2, channels, size, size)
    z = vae.encode(x)
    assert z.shape == (2, 8) and z.dtype == torch.float32
    out = vae.decode(z + 5 * torch.randn_like(z))
    assert out.shape == x.shape and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1
    assert torch.equal(vae.encode(x), z)
    assert isinstance(vae, Codec)


def test_loss_rescales_the_mse_to_mnist_contrast() -> None:
    torch.manual_seed(0)
    vae = ResVAE(3, 8, latent_dim=4, width=4, beta=0.5)
    x = torch.rand(5, 3, 8, 8) * 0.2
    total, recon, kl = vae.loss(x, torch.Generator().manual_seed(1))
    mu, logvar = vae.encode_dist(x)
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(1))
    raw = vae.decoder(mu + (0.5 * logvar).exp() * eps)
    assert recon.item() == pytest.approx((raw - x).pow(2).mean().item(), rel=1e-6)
    weight = MNIST_PIXEL_VAR / x.var().item()
    assert total.item() == pytest.approx(recon.item() * weight + 0.5 * kl.item(), rel=1e-5)
    plain = ResVAE(3, 8, latent_dim=4, width=4, beta=0.5, reference_var=None)
    plain.load_state_dict(vae.state_dict())
    total, recon, kl = plain.loss(x, torch.Generator().manual_seed(1))
    assert total.item() == pytest.approx(recon.item() + 0.5 * kl.item(), rel=1e-6)


def test_save_load_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    vae = ResVAE(3, 32, latent_dim=6, width=4, beta=0.001, reference_var=None)
    save_module(vae, tmp_path / "vae")
    back = load_module(tmp_path / "vae", expected=ResVAE)
    assert isinstance(back, ResVAE) and back.config == vae.config
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(back(x), vae.eval()(x))


def test_same_seed_same_training() -> None:
    images = colour_shapes(24, 16, seed=0).images

    def run() -> tuple[list[float], dict[str, torch.Tensor]]:
        torch.manual_seed(0)
        vae = ResVAE(3, 16, latent_dim=4, width=4)
        losses = train_vae(vae, images, epochs=2, batch_size=8, lr=2e-3, seed=1)
        return losses, vae.state_dict()

    (a, wa), (b, wb) = run(), run()
    assert a == b and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_dim_colour_shapes_are_reconstructed_better_than_the_mean() -> None:
    data = colour_shapes(120, 32, seed=0)
    train, test = data.images[:100], data.images[100:]
    torch.manual_seed(0)
    vae = ResVAE(3, 32, latent_dim=16, width=8)
    train_vae(
        vae, train, epochs=60, batch_size=20, lr=2e-3, seed=0
    )  # 300 steps; measured margin 2.9 dB
    with torch.no_grad():
        recon = vae(test)
    mean = train.mean(0, keepdim=True).expand_as(test)
    assert recon.std(0).mean() > 0.3 * test.std(0).mean()  # not one constant image
    assert psnr(recon, test).mean() > psnr(mean, test).mean() + 1.5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"image_size": 7}, r"image_size must be an integer >= 8, got 7; use ConvVAE"),
        ({"image_size": 32.5}, "image_size must be an integer >= 8"),
        ({"in_channels": 0}, "in_channels must be an integer >= 1"),
        ({"latent_dim": 0}, "latent_dim must be an integer >= 1"),
        ({"width": 0}, "width must be an integer >= 1"),
        ({"beta": float("nan")}, "beta must be a finite number >= 0"),
        ({"beta": -1.0}, "beta must be a finite number >= 0"),
        ({"reference_var": float("inf")}, "reference_var must be a finite number > 0 or None"),
        ({"reference_var": 0.0}, "reference_var must be a finite number > 0 or None"),
        ({"work_size": 4}, "work_size must be an integer >= 8, got 4"),
        ({"image_size": 16, "work_size": 32}, r"work_size must be at most image_size \(16\)"),
    ],
)
def test_bad_settings(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ResVAE(**kwargs)


def test_bad_images_name_the_expected_shape() -> None:
    vae = ResVAE(3, 32, latent_dim=4, width=4)
    with pytest.raises(ValueError, match=r"ResVAE takes float images \[B, 3, 32, 32\]"):
        vae.encode(torch.rand(2, 1, 32, 32))
    with pytest.raises(ValueError, match=r"latents must be a float tensor \[B, 4\]"):
        vae.decode(torch.rand(2, 5))


def test_a_smaller_work_size_trains_the_smaller_network_on_averaged_images(tmp_path) -> None:
    torch.manual_seed(0)
    big = ResVAE(3, 32, latent_dim=6, width=4, work_size=16)
    small = ResVAE(3, 16, latent_dim=6, width=4)
    assert {k: v.shape for k, v in big.state_dict().items()} == {
        k: v.shape for k, v in small.state_dict().items()
    }
    small.load_state_dict(big.state_dict())
    x = torch.rand(3, 3, 32, 32)
    checker = torch.tensor([[1.0, -1.0], [-1.0, 1.0]]).repeat(16, 16) * 0.05
    assert torch.allclose(big.encode(x), big.encode(x + checker), atol=1e-6)  # 2x2 means kept
    z = big.encode(x)
    assert torch.allclose(z, small.encode(F.interpolate(x, size=16, mode="area")), atol=1e-6)
    up = F.interpolate(small.decoder(z), size=32, mode="bicubic", align_corners=False)
    assert torch.equal(big.decode(z), up.clamp(0, 1)) and big.decode(z).shape == x.shape
    save_module(big, tmp_path / "vae")
    back = load_module(tmp_path / "vae", expected=ResVAE)
    assert back.config["work_size"] == 16 and torch.equal(back(x), big.eval()(x))
