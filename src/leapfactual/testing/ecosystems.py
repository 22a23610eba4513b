"""Tiny models as other libraries ship them, made locally (nothing is downloaded), so that the
bring-your-own paths can be tried, taught and tested: a Hugging Face image classifier directory
with its image processor config, and a diffusers ``AutoencoderKL`` directory.

Both are small random-initialised models; :func:`write_hf_classifier` trains its classifier for
a few steps with a plain loop, as a user's own training would, so that its answers mean
something. Each needs its library (``leapfactual[hf]``, ``leapfactual[diffusers]``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch
from torch.nn import functional as F

from leapfactual._optional import require
from leapfactual.data import Dataset

HF_MEAN_STD = 0.5
"""The mean and std of the image processor :func:`write_hf_classifier` writes (as many
Hugging Face processors state)."""


def write_hf_classifier(
    data: Dataset, folder: Path, epochs: int = 2, seed: int = 0, names: Sequence[str] | None = None
) -> Path:
    """A tiny ``ResNetForImageClassification`` trained on ``data`` (normalised with mean and
    std 0.5 as its processor says), saved with ``save_pretrained`` (safetensors) into
    ``folder`` beside a ``preprocessor_config.json``; ``id2label`` holds ``names`` (default:
    the data's class names)."""
    transformers = require("transformers", "hf", "a Hugging Face model directory")
    labels = list(names) if names is not None else list(data.class_names)
    torch.manual_seed(seed)
    config = transformers.ResNetConfig(
        num_channels=data.shape[0],
        embedding_size=8,
        hidden_sizes=[8, 16],
        depths=[1, 1],
        layer_type="basic",
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={name: k for k, name in enumerate(labels)},
    )
    model = transformers.ResNetForImageClassification(config)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(data), generator=generator).split(32):
            optimiser.zero_grad()
            x = (data.images[idx] - HF_MEAN_STD) / HF_MEAN_STD
            F.cross_entropy(model(x).logits, data.labels[idx]).backward()
            optimiser.step()
    model.eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder), safe_serialization=True)
    side = data.shape[1]
    processor = {
        "image_processor_type": "ConvNextImageProcessor",
        "do_resize": True,
        "size": {"shortest_edge": side},
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": [HF_MEAN_STD] * data.shape[0],
        "image_std": [HF_MEAN_STD] * data.shape[0],
    }
    (folder / "preprocessor_config.json").write_text(json.dumps(processor, indent=2))
    return folder


def write_autoencoder(
    folder: Path, channels: int = 3, latent_channels: int = 4, seed: int = 0
) -> Path:
    """A tiny random ``AutoencoderKL`` (two blocks: latents at half the image side) saved with
    ``save_pretrained`` (safetensors) into ``folder``; its config keeps diffusers' default
    Stable Diffusion ``scaling_factor`` 0.18215, which does not suit it."""
    diffusers = require("diffusers", "diffusers", "a diffusers autoencoder")
    torch.manual_seed(seed)
    vae = diffusers.AutoencoderKL(
        in_channels=channels,
        out_channels=channels,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        block_out_channels=(8, 16),
        layers_per_block=1,
        latent_channels=latent_channels,
        norm_num_groups=4,
        sample_size=16,
    )
    folder.mkdir(parents=True, exist_ok=True)
    vae.save_pretrained(str(folder), safe_serialization=True)
    return folder


__all__ = ["HF_MEAN_STD", "write_autoencoder", "write_hf_classifier"]
