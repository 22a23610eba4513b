"""The GAN codec on a tiny randomly initialised StyleGAN-like generator (no downloads)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import Tensor, nn

from leapfactual.explain import Blend, LeapFactual
from leapfactual.flow import UNet1DField
from leapfactual.models import GANCodec

Z, W, SIDE = 8, 6, 8


class Mapping(nn.Module):
    z_dim = Z

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(Z, 16), nn.LeakyReLU(0.2), nn.Linear(16, W))

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).unsqueeze(1).expand(-1, 2, -1)  # StyleGAN: [B, num_ws, w_dim]


class Synthesis(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Linear(2 * W, 3 * SIDE * SIDE)

    def forward(self, ws: Tensor) -> Tensor:
        return torch.sigmoid(self.net(ws.flatten(1))).view(-1, 3, SIDE, SIDE)


class Generator(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.mapping, self.synthesis = Mapping(), Synthesis()


def generator(seed: int = 0) -> Generator:
    torch.manual_seed(seed)
    return Generator()


def codec(g: Generator, **kw) -> GANCodec:
    options = dict(num_ws=2, steps=150, lr=0.05, mean_samples=2000)
    return GANCodec(g.mapping, g.synthesis, **{**options, **kw})


def test_decode_is_synthesis_of_broadcast_w() -> None:
    g = generator()
    c = codec(g)
    w = torch.randn(3, W)
    assert torch.equal(c.decode(w), g.synthesis(w.unsqueeze(1).expand(-1, 2, -1)))
    with pytest.raises(ValueError, match=r"w must be \[B, 6\]"):
        c.decode(torch.randn(3, W + 1))


def test_inversion_reconstructs_from_the_mean_w_and_is_deterministic() -> None:
    c = codec(generator())
    w_true = c.w_mean + 0.8 * torch.randn(4, W, generator=torch.Generator().manual_seed(1))
    x = c.decode(w_true)
    start = (c.decode(c.w_mean.expand(4, -1)) - x).pow(2).mean()
    w = c.encode(x)
    after = (c.decode(w) - x).pow(2).mean()
    assert after < 0.05 * start
    assert c.last_loss is not None and c.last_loss.shape == (4,)
    assert torch.equal(w, c.encode(x))  # seeded, deterministic
    assert torch.allclose(c.encode(x[:2]), w[:2], atol=1e-5)  # independent of the batch


def test_mean_w_is_seeded_and_uses_w_avg_when_present() -> None:
    g = generator()
    assert torch.equal(codec(g, seed=3).w_mean, codec(g, seed=3).w_mean)
    assert not torch.equal(codec(g, seed=3).w_mean, codec(g, seed=4).w_mean)
    g.mapping.register_buffer("w_avg", torch.arange(W, dtype=torch.float32))
    assert torch.equal(codec(g).w_mean, torch.arange(W, dtype=torch.float32))


def test_weights_load_from_safetensors_and_explicit_pt(tmp_path: Path) -> None:
    source = generator(0)
    state = {k: v.contiguous() for k, v in source.state_dict().items()}
    save_file(state, str(tmp_path / "g.safetensors"))
    torch.save(state, tmp_path / "g.pt")
    w = torch.randn(2, W)
    expected = codec(source).decode(w)
    for name in ("g.safetensors", "g.pt"):
        fresh = generator(1)
        assert not torch.allclose(codec(fresh).decode(w), expected)
        assert torch.equal(codec(fresh, weights=tmp_path / name).decode(w), expected)


def test_bad_weights_are_named(tmp_path: Path) -> None:
    g = generator()
    with pytest.raises(FileNotFoundError, match=r"nowhere\.safetensors do not exist"):
        codec(g, weights=tmp_path / "nowhere.safetensors")
    (tmp_path / "g.pkl").write_bytes(b"\x80\x04junk")
    with pytest.raises(ValueError, match=r"unknown weights format '\.pkl'"):
        codec(g, weights=tmp_path / "g.pkl")
    (tmp_path / "fake.safetensors").write_bytes(b"\x80\x04junk")
    with pytest.raises(ValueError, match="not a readable safetensors"):
        codec(g, weights=tmp_path / "fake.safetensors")
    save_file({"mapping.net.0.weight": torch.zeros(3, 3)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="does not fit the mapping network"):
        codec(g, weights=tmp_path / "other.safetensors")
    with pytest.raises(ValueError, match="z_dim"):
        GANCodec(nn.Linear(2, W), g.synthesis)


def test_leapfactual_runs_on_the_gan_codec_with_a_unet_field() -> None:
    c = codec(generator(), steps=20)
    field = UNet1DField(W, 2, width=8, depth=1, condition="softmax")

    def classifier(x: Tensor) -> Tensor:
        score = x.mean(dim=(1, 2, 3)) - 0.5
        return torch.stack([-score, score], dim=1) * 50

    x = c.decode(c.w_mean + torch.randn(3, W, generator=torch.Generator().manual_seed(2)))
    exp = LeapFactual(classifier, c, field, Blend(0.1, 2), None).explain(x, 1)
    assert exp.x_cf.shape == x.shape and exp.z is not None and exp.z.shape == (3, W)
    assert exp.cost.encoder == 3
