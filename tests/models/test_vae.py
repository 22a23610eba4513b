from pathlib import Path

import pytest
import torch

from leapfactual.io import CheckpointError, load_module, save_module
from leapfactual.models import Codec, ConditionalVAE, ConvVAE
from leapfactual.models.vae import kl_divergence

SIZES = [(1, 28), (1, 8), (3, 32), (3, 128)]


@pytest.mark.parametrize(("channels", "size"), SIZES)
def test_vae_shapes_for_every_image_size(channels: int, size: int) -> None:
    torch.manual_seed(0)
    vae = ConvVAE(channels, size, latent_dim=16, width=8)
    x = torch.rand(3, channels, size, size)
    z = vae.encode(x)
    mu, logvar = vae.encode_dist(x)
    assert z.shape == mu.shape == logvar.shape == (3, 16)
    out = vae.decode(z)
    assert out.shape == x.shape
    assert out.min() > 0 and out.max() < 1
    assert torch.equal(vae.encode(x), z)  # deterministic: the posterior mean
    total = vae.loss(x, torch.Generator().manual_seed(0))[0]
    assert total.dim() == 0 and torch.isfinite(total)


@pytest.mark.parametrize(("channels", "size"), [*SIZES, (1, 7), (1, 15)])
def test_cvae_shapes_for_every_image_size(channels: int, size: int) -> None:
    torch.manual_seed(0)
    cvae = ConditionalVAE(channels, size, latent_dim=8, num_classes=4, width=8)
    x = torch.rand(2, channels, size, size)
    cond = torch.softmax(torch.randn(2, 4), dim=1)
    z = cvae.encode(x, cond)
    assert z.shape == (2, 8)
    assert cvae.decode(z, cond).shape == x.shape


def test_deeper_stack_for_larger_images() -> None:
    def stages(size: int) -> int:
        return sum(isinstance(m, torch.nn.Conv2d) for m in ConvVAE(3, size).encoder.modules())

    assert [stages(s) for s in (8, 28, 32, 128)] == [1, 2, 3, 5]


def test_vae_is_a_codec() -> None:
    assert isinstance(ConvVAE(), Codec)


def test_loss_is_mse_mean_plus_beta_kl_sum() -> None:
    torch.manual_seed(0)
    vae = ConvVAE(1, 8, latent_dim=4, width=4, beta=0.5)
    x = torch.rand(5, 1, 8, 8)
    gen = torch.Generator().manual_seed(1)
    total, recon, kl = vae.loss(x, gen)
    mu, logvar = vae.encode_dist(x)
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(1))
    expected_recon = (vae.decoder(mu + (0.5 * logvar).exp() * eps) - x).pow(2).mean()
    assert recon.item() == pytest.approx(expected_recon.item(), rel=1e-6)
    expected_kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1).mean()
    assert kl.item() == pytest.approx(expected_kl.item(), rel=1e-5)
    assert total.item() == pytest.approx(recon.item() + 0.5 * kl.item(), rel=1e-6)


def test_kl_of_the_prior_is_zero_and_grows_with_distance() -> None:
    zeros = torch.zeros(4, 6)
    assert kl_divergence(zeros, zeros).item() == 0.0
    assert kl_divergence(torch.full((4, 6), 2.0), zeros).item() == pytest.approx(12.0)


@pytest.mark.parametrize("cls", [ConvVAE, ConditionalVAE])
def test_save_load_round_trip_is_exact(tmp_path: Path, cls: type) -> None:
    torch.manual_seed(0)
    kwargs = {"latent_dim": 6, "width": 4, "beta": 0.001}
    if cls is ConditionalVAE:
        kwargs["num_classes"] = 3
    model = cls(1, 8, **kwargs)
    save_module(model, tmp_path / "m")
    loaded = load_module(tmp_path / "m", expected=cls)
    assert type(loaded) is cls and loaded.config == model.config
    state, other = model.state_dict(), loaded.state_dict()
    assert all(torch.equal(state[k], other[k]) for k in state)
    x = torch.rand(2, 1, 8, 8)
    args = (torch.eye(3)[:2],) if cls is ConditionalVAE else ()
    assert torch.equal(model(x, *args), loaded(x, *args))
    with pytest.raises(CheckpointError, match="not a"):
        load_module(tmp_path / "m", expected=torch.nn.Linear)


def test_wrong_inputs_get_specific_errors() -> None:
    vae = ConvVAE(1, 28, latent_dim=8, width=4)
    with pytest.raises(ValueError, match=r"\[B, 1, 28, 28\].*view"):
        vae.encode(torch.rand(2, 784))
    with pytest.raises(ValueError, match=r"x\.float"):
        vae.encode(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"\[B, 8\]"):
        vae.decode(torch.zeros(2, 7))
    cvae = ConditionalVAE(1, 8, latent_dim=4, num_classes=3, width=4)
    with pytest.raises(ValueError, match=r"cond .*\[B, 3\]"):
        cvae.encode(torch.rand(2, 1, 8, 8), torch.zeros(2, 10))
    with pytest.raises(ValueError, match="rows for a batch of 2"):
        cvae.decode(torch.zeros(2, 4), torch.zeros(3, 3))
    with pytest.raises(ValueError, match="beta"):
        ConvVAE(beta=-1.0)


def test_cvae_decoding_depends_on_the_condition() -> None:
    torch.manual_seed(0)
    cvae = ConditionalVAE(1, 8, latent_dim=4, num_classes=3, width=4)
    z = torch.zeros(1, 4)
    a, b = cvae.decode(z, torch.eye(3)[:1]), cvae.decode(z, torch.eye(3)[1:2])
    assert not torch.allclose(a, b)
