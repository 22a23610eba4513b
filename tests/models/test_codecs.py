"""A user's codec from a SPEC: an entry point or a diffusers autoencoder directory, hashed,
its value range applied, its latent scale measured from the data (never taken on trust)."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import pytest
import torch

from leapfactual.io import file_sha256
from leapfactual.models import Standardised, latent_statistics, load_codec, scale_note

CODEC = """
import torch

class Halves:
    '''Encodes images in [-1, 1] as their 2x2 means (times 10), decodes by repeating them.'''

    def encode(self, x):
        return torch.nn.functional.avg_pool2d(x, 2) * 10

    def decode(self, z):
        return (z / 10).repeat_interleave(2, -1).repeat_interleave(2, -2)

class NoDecode:
    def encode(self, x):
        return x
"""


@pytest.fixture
def codec_module(tmp_path, monkeypatch) -> tuple[str, Path]:
    name = f"lf_codec_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(CODEC)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return name, tmp_path / f"{name}.py"


def test_an_entry_point_codec_in_its_value_range(codec_module) -> None:
    name, file = codec_module
    loaded = load_codec(f"{name}:Halves", value_range=(-1.0, 1.0))
    assert loaded.kind == "entry_point" and loaded.sha256 == file_sha256(file)
    assert loaded.files == {file.name: loaded.sha256} and loaded.value_range == (-1.0, 1.0)
    x = torch.full((2, 1, 4, 4), 0.75)
    z = loaded.model.encode(x)
    assert z.shape == (2, 4) and torch.allclose(z, torch.full((2, 4), 5.0))  # (0.75*2-1)*10
    assert loaded.model.latent_shape == (1, 2, 2)
    torch.testing.assert_close(loaded.model.decode(z), x)


def test_latents_are_standardised_by_a_measured_scale(codec_module) -> None:
    name, _ = codec_module
    model = load_codec(f"{name}:Halves").model
    images = torch.rand(32, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    shift, std = latent_statistics(model, images)
    codec = Standardised(model, shift, 1 / std)
    z = codec.encode(images)
    assert abs(float(z.mean())) < 1e-4 and abs(float(z.std()) - 1) < 1e-4
    torch.testing.assert_close(codec.decode(z), model.decode(model.encode(images)))
    with pytest.raises(ValueError, match=r"latent shift and scale must be finite"):
        Standardised(model, 0.0, float("inf"))


def test_a_config_scale_far_from_the_measured_one_gets_a_note() -> None:
    assert scale_note(None, 3.0) is None and scale_note(0.5, 1.5) is None
    note = scale_note(0.18215, 0.93)
    assert note is not None and "0.18215" in note and "standard deviation of 0.169" in note


def test_codec_specs_that_cannot_be_used(codec_module, tmp_path) -> None:
    name, _ = codec_module
    with pytest.raises(ValueError, match=r"NoDecode without encode and decode methods"):
        load_codec(f"{name}:NoDecode")
    with pytest.raises(ValueError, match=r"unknown codec SPEC 'vae\.ckpt'"):
        load_codec("vae.ckpt")
    with pytest.raises(ValueError, match=r"codec .* has SHA-256 .* latents, so re-fit it"):
        load_codec(f"{name}:Halves", expect_sha256="00" * 32)
    folder = tmp_path / "unet"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"_class_name": "UNet2DConditionModel"}))
    with pytest.raises(ValueError, match=r"holds a UNet2DConditionModel, not a diffusers autoenc"):
        load_codec(str(folder))
    (folder / "config.json").write_text(json.dumps({"_class_name": "AutoencoderKL"}))
    (folder / "diffusion_pytorch_model.bin").write_bytes(b"\x80\x04")
    with pytest.raises(ValueError, match=r"refusing to load .*no \*\.safetensors weights"):
        load_codec(str(folder))


@pytest.fixture(scope="module")
def autoencoder(tmp_path_factory) -> Path:
    pytest.importorskip("diffusers")
    from leapfactual.testing import write_autoencoder

    return write_autoencoder(tmp_path_factory.mktemp("vae") / "vae")


def test_a_diffusers_autoencoder_directory(autoencoder) -> None:
    loaded = load_codec(str(autoencoder))
    assert loaded.kind == "diffusers" and loaded.value_range == (-1.0, 1.0)
    assert set(loaded.files) == {"config.json", "diffusion_pytorch_model.safetensors"}
    assert loaded.config_scale == pytest.approx(0.18215)  # stated, not used
    images = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    z = loaded.model.encode(images)
    assert z.shape == (3, 4 * 8 * 8) and loaded.model.latent_shape == (4, 8, 8)
    out = loaded.model.decode(z)
    assert out.shape == images.shape and float(out.min()) >= 0 and float(out.max()) <= 1
    with pytest.raises(ValueError, match=r"takes images in \[-1, 1\].*drop the setting"):
        load_codec(str(autoencoder), value_range=(0.0, 1.0))
