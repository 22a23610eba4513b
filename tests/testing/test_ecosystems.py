"""Tiny models as other libraries ship them, made locally: what the tests and the tutorial
bring to ``fit``."""

from __future__ import annotations

import json

import torch

from leapfactual.data import Dataset
from leapfactual.testing import HF_MEAN_STD, write_autoencoder, write_hf_classifier


def bright_and_dark(n: int = 64, side: int = 16) -> Dataset:
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(n) % 2
    images = torch.rand(n, 3, side, side, generator=generator) * 0.4 + 0.6 * labels.view(
        -1, 1, 1, 1
    )
    return Dataset(images, labels, ["dark", "light"], "bright-and-dark")


def test_a_hugging_face_classifier_directory_with_its_processor(tmp_path) -> None:
    import transformers

    data = bright_and_dark()
    folder = write_hf_classifier(data, tmp_path / "hf")
    names = {p.name for p in folder.iterdir()}
    assert {"config.json", "model.safetensors", "preprocessor_config.json"} <= names
    processor = json.loads((folder / "preprocessor_config.json").read_text())
    assert processor["image_mean"] == [HF_MEAN_STD] * 3
    model = transformers.AutoModelForImageClassification.from_pretrained(str(folder))
    logits = model((data.images - HF_MEAN_STD) / HF_MEAN_STD).logits
    assert float((logits.argmax(1) == data.labels).float().mean()) > 0.9
    assert model.config.id2label == {0: "dark", 1: "light"}


def test_a_diffusers_autoencoder_directory(tmp_path) -> None:
    import diffusers

    folder = write_autoencoder(tmp_path / "vae", channels=3, latent_channels=4)
    vae = diffusers.AutoencoderKL.from_pretrained(str(folder))
    latents = vae.encode(torch.rand(2, 3, 16, 16) * 2 - 1).latent_dist.mean
    assert latents.shape == (2, 4, 8, 8) and vae.config.scaling_factor == 0.18215
