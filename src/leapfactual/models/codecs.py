"""Load a user's codec (the autoencoder whose latent space the flow models) from a SPEC.

SPEC is one of:

* ``package.module:attribute``: an object with ``encode(x) -> z`` and ``decode(z) -> x``
  (or a class / zero-argument factory returning one), taking images in its ``value_range``
  (default [0, 1]); its module is located and hashed before it is imported, as for a
  classifier (:func:`~leapfactual.models.external.load_entry_point`).
* a diffusers autoencoder directory (``config.json`` naming ``AutoencoderKL`` and
  ``*.safetensors`` weights; extra ``leapfactual[diffusers]``), loaded with
  ``from_pretrained`` on the local folder and wrapped in :class:`DiffusersCodec` ([-1, 1]).

Latents are flattened for the flow (:class:`~leapfactual.models.adapters.FlatLatents`) and
standardised by a scale measured on the run's images (:func:`latent_statistics`), never
taken from a config (why: docs/design-notes.md, "Measured reasons behind short docstrings").
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from leapfactual._optional import require
from leapfactual.models.adapters import DiffusersCodec, FlatLatents, as_tensor_outputs
from leapfactual.models.external import (
    ENTRY_POINT,
    build_entry_point,
    check_hash,
    combined_sha256,
    directory_files,
    first_line,
    load_entry_point,
    loading,
    quiet,
)

CODEC_ACCEPTED = (
    "'package.module:attribute' (an object with encode and decode) or a diffusers "
    "autoencoder directory (config.json and *.safetensors)"
)
SCALE_NOTE_RATIO = 2.0
"""A config's scaling factor off the measured one by more than this factor gets a note."""


@dataclass(frozen=True)
class ExternalCodec:
    """A loaded codec and where it came from (as :class:`ExternalClassifier` for a
    classifier): ``model`` takes images in [0, 1] and gives flat latents ``[B, D]``;
    ``config_scale`` is the scaling factor its own config states (diffusers), if any."""

    spec: str
    kind: str
    sha256: str
    model: FlatLatents
    files: dict[str, str] = field(default_factory=dict)
    value_range: tuple[float, float] = (0.0, 1.0)
    config_scale: float | None = None


class RangedCodec(nn.Module):
    """A codec taking images in ``value_range``, seen as one taking images in [0, 1]."""

    def __init__(self, codec: Any, value_range: Sequence[float]) -> None:
        super().__init__()
        self.codec = codec
        self.low, self.high = (float(v) for v in value_range)

    def encode(self, x: Tensor) -> Tensor:
        return as_tensor_outputs(
            self.codec.encode(x * (self.high - self.low) + self.low), "codec.encode"
        )

    def decode(self, z: Tensor) -> Tensor:
        out = as_tensor_outputs(self.codec.decode(z), "codec.decode")
        return ((out - self.low) / (self.high - self.low)).clamp(0, 1)


class Standardised(nn.Module):
    """A flat-latent codec whose latents are ``(z - shift) * scale`` (about zero mean and unit
    standard deviation, what the flow's Gaussian source expects); ``decode`` undoes it."""

    input_range = (0.0, 1.0)

    def __init__(self, codec: FlatLatents, shift: float, scale: float) -> None:
        super().__init__()
        if not (math.isfinite(shift) and math.isfinite(scale) and scale > 0):
            raise ValueError(
                f"the codec's latent shift and scale must be finite with scale > 0, got "
                f"{shift}, {scale}: its latents are constant or not finite on these images"
            )
        self.codec = codec
        self.shift = shift
        self.scale = scale

    @property
    def latent_shape(self) -> tuple[int, ...] | None:
        return self.codec.latent_shape

    @property
    def latent_dim(self) -> int | None:
        return self.codec.latent_dim

    def encode(self, x: Tensor) -> Tensor:
        return (self.codec.encode(x) - self.shift) * self.scale

    def decode(self, z: Tensor) -> Tensor:
        return self.codec.decode(z / self.scale + self.shift)


def load_codec(
    spec: str,
    *,
    expect_sha256: str | None = None,
    device: str | torch.device = "cpu",
    value_range: Sequence[float] | None = None,
    latent_shape: Sequence[int] | None = None,
    refuse_modules_in: Sequence[str | os.PathLike[str]] = (),
) -> ExternalCodec:
    """Load the codec SPEC names (module docstring), in eval mode on ``device``, its latents
    raw (not standardised: :class:`Standardised` does that with measured statistics).

    ``value_range``: the images the codec takes (None: [0, 1] for an entry point, [-1, 1]
    for a diffusers autoencoder, which :class:`DiffusersCodec` maps itself).
    ``latent_shape``: one image's latent shape, when known (a run records it).
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"the codec SPEC must be a non-empty string: {CODEC_ACCEPTED}")
    path = Path(spec).expanduser()
    if path.is_dir():
        return _load_diffusers(path.resolve(), expect_sha256, device, latent_shape, value_range)
    if not ENTRY_POINT.fullmatch(spec):
        raise ValueError(f"unknown codec SPEC {spec!r}; give {CODEC_ACCEPTED}")
    target, source, sha256 = load_entry_point(spec, "codec", expect_sha256, refuse_modules_in)
    codec = build_entry_point(target, spec, "codec")
    if not (callable(getattr(codec, "encode", None)) and callable(getattr(codec, "decode", None))):
        raise ValueError(
            f"codec {spec!r} is a {type(codec).__name__} without encode and decode methods; "
            "point it at an object with encode(images) -> latents and decode(latents) -> "
            "images (or a class or zero-argument factory that returns one)"
        )
    if isinstance(codec, nn.Module):
        codec.eval().to(device)
    ranged = RangedCodec(codec, value_range if value_range is not None else (0.0, 1.0))
    model = FlatLatents(ranged, latent_shape)
    files = {Path(source).name: sha256}
    bounds = (ranged.low, ranged.high)
    return ExternalCodec(spec, "entry_point", sha256, model, files, bounds)


def _load_diffusers(
    folder: Path,
    expect_sha256: str | None,
    device: str | torch.device,
    latent_shape: Sequence[int] | None,
    value_range: Sequence[float] | None,
) -> ExternalCodec:
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise ValueError(
            f"{folder} has no config.json; a codec directory is a diffusers autoencoder saved "
            "with save_pretrained (config.json and diffusion_pytorch_model.safetensors)"
        )
    files = directory_files(folder)
    sha256 = combined_sha256(files)
    check_hash(str(folder), sha256, expect_sha256, "codec")
    with loading(config_file, "a diffusers config"):
        config = json.loads(config_file.read_text(encoding="utf-8"))
    name = config.get("_class_name") if isinstance(config, dict) else None
    if not isinstance(name, str) or not name.startswith("Autoencoder"):
        raise ValueError(
            f"{folder} holds a {name or 'model without _class_name'}, not a diffusers "
            "autoencoder (AutoencoderKL); give the autoencoder's own directory (e.g. the "
            "'vae' folder of a pipeline)"
        )
    if not any(n.endswith(".safetensors") for n in files):
        raise ValueError(
            f"refusing to load {folder}: it has no *.safetensors weights (.bin files are "
            "pickles, and unpickling runs arbitrary code); save it with "
            "vae.save_pretrained(folder, safe_serialization=True)"
        )
    diffusers = require("diffusers", "diffusers", "a diffusers autoencoder codec")
    cls = getattr(diffusers, name, None)
    if cls is None:
        raise ValueError(f"diffusers has no {name}; give an AutoencoderKL directory")
    with loading(folder, f"a diffusers {name}"), quiet(diffusers):
        vae = cls.from_pretrained(str(folder), local_files_only=True, use_safetensors=True)
    vae.eval().to(device)
    scale = getattr(getattr(vae, "config", None), "scaling_factor", None)
    if value_range is not None and tuple(value_range) != (-1.0, 1.0):
        raise ValueError(
            f"codec.value_range = {list(value_range)}, but a diffusers autoencoder takes "
            "images in [-1, 1] (DiffusersCodec maps them); drop the setting"
        )
    model = DiffusersCodec(vae, latent_shape=latent_shape, scaling_factor=1.0, shift_factor=0.0)
    return ExternalCodec(
        str(folder),
        "diffusers",
        sha256,
        model,
        files,
        (-1.0, 1.0),
        None if scale is None else float(scale),
    )


@torch.no_grad()
def latent_statistics(codec: Any, images: Tensor, batch: int = 64) -> tuple[float, float]:
    """Mean and standard deviation of ``codec``'s latents over ``images`` (every latent value
    pooled): what :class:`Standardised` removes."""
    parts = []
    for i in range(0, len(images), batch):
        try:
            z = codec.encode(images[i : i + batch])
        except MemoryError:
            raise
        except ValueError:
            raise
        except Exception as err:
            raise ValueError(
                f"the codec failed while encoding the run's images of shape "
                f"{list(images.shape[1:])} ({type(err).__name__}: {first_line(err)}); check "
                "the image size and channels it takes (--image-size, --channels)"
            ) from err
        parts.append(z.detach().float().cpu())
    latents = torch.cat(parts)
    if not torch.isfinite(latents).all():
        raise ValueError(
            "the codec's latents of the run's images hold NaN or infinite values; check the "
            "codec (its weights) and the images it takes"
        )
    return float(latents.mean()), float(latents.std())


def scale_note(config_scale: float | None, std: float) -> str | None:
    """A note when a codec's config scales latents far from what the data gives: its
    ``scaling_factor`` times the measured raw standard deviation is off 1 by more than
    :data:`SCALE_NOTE_RATIO`."""
    if config_scale is None or std <= 0:
        return None
    scaled = config_scale * std
    if 1 / SCALE_NOTE_RATIO <= scaled <= SCALE_NOTE_RATIO:
        return None
    return (
        f"the codec's config scales latents by {config_scale:g}, which gives them a standard "
        f"deviation of {scaled:.3g} on these images (not about 1); the run standardises them "
        f"with the measured scale {1 / std:.4g} instead"
    )


__all__ = [
    "CODEC_ACCEPTED",
    "ExternalCodec",
    "RangedCodec",
    "Standardised",
    "latent_statistics",
    "load_codec",
    "scale_note",
]
