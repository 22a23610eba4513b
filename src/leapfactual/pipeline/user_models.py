"""The models a user brings to a run: their classifier (``classifier.spec``) and their codec
(``codec.spec``), loaded, probed and recorded before anything is written or trained, and
loaded back from what ``run.json`` recorded.

A run records for each: the spec, its kind, the SHA-256 of every file it consists of, the
settings that shape its inputs and outputs (preprocessing, the chosen output, a codec's value
range) and what was measured (a classifier's answers on a fixed probe batch, a codec's latent
shift and scale), so that loading refuses a model that changed, even behind unchanged files.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from leapfactual.data import Dataset, folder_aspect_note
from leapfactual.models import (
    Standardised,
    above_chance,
    check_fingerprint,
    latent_statistics,
    load_classifier,
    load_codec,
    probe_accuracy,
    probe_classifier,
    scale_note,
)
from leapfactual.pipeline.settings import FitSettings

STATISTICS_IMAGES = 512
"""At most this many of the data's images (evenly spaced) measure a codec's latent scale."""


@dataclass
class UserModels:
    """What :func:`load_user_models` loaded: the classifier and codec (None when the run
    trains its own) and their records for ``run.json`` (with the notes of what was done)."""

    classifier: Callable[[Tensor], Tensor] | None = None
    codec: nn.Module | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def load_user_models(
    config: FitSettings, data: Dataset, device: torch.device, stages: tuple[str, ...]
) -> UserModels:
    """Load and check the user's classifier and codec on ``data`` (the run's images), and
    refuse square-only models for non-square images, before anything is written."""
    _check_square(config, data, stages)
    user = UserModels()
    notes = []
    note = _aspect_note(config, data)
    if note is not None:
        notes.append(note)
    chosen = _spread(len(data), STATISTICS_IMAGES)
    images = data.images[chosen].to(device)
    if config.codec.spec is not None:
        codec, record, note = _load_codec(config, images, device)
        user.codec, user.meta["codec_source"] = codec, record
        notes += [note] if note else []
    if config.classifier.spec is not None:
        user.classifier, user.meta["classifier_source"], note = _load_classifier(
            config, data, images, data.labels[chosen], device
        )
        notes += [note] if note else []
    if notes:
        user.meta["notes"] = notes
    return user


def _spread(n: int, count: int) -> Tensor:
    """``count`` indices spread evenly over ``range(n)`` (all of them when fewer)."""
    if n <= count:
        return torch.arange(n)
    return torch.linspace(0, n - 1, count).round().long()


def _check_square(config: FitSettings, data: Dataset, stages: tuple[str, ...]) -> None:
    _, height, width = data.shape
    if height == width:
        return
    square = [
        name
        for name, needed in (
            ("the VAE (bring a codec: --codec)", config.codec.spec is None),
            (
                "the classifier the run trains (bring yours: --classifier)",
                config.classifier.spec is None,
            ),
            ("the oracle", "oracle" in stages),
            ("the CGM baseline's CVAE", "cvae" in stages),
        )
        if needed
    ]
    if square:
        raise ValueError(
            f"the images are {height}x{width} px (height x width), but {', '.join(square)} "
            "take square images only; fit them into a square keeping their aspect (--set "
            "aspect=pad, or crop, with a square --image-size), or bring models that take "
            f"{height}x{width}"
        )


def _aspect_note(config: FitSettings, data: Dataset) -> str | None:
    name, _, path = config.data.partition(":")
    if name.strip().lower() != "image-folder" or not path:
        return None
    return folder_aspect_note(Path(path), data.shape[1:], config.aspect)


def _load_codec(
    config: FitSettings, images: Tensor, device: torch.device
) -> tuple[nn.Module, dict[str, Any], str | None]:
    spec = config.codec.spec
    assert spec is not None
    loaded = load_codec(spec, device=device, value_range=config.codec.value_range)
    shift, std = latent_statistics(loaded.model, images)
    codec = Standardised(loaded.model, shift, 1.0 / std if std > 0 else math.inf)
    shape = loaded.model.latent_shape
    assert shape is not None  # set by the first encode
    record = {
        "spec": loaded.spec,
        "kind": loaded.kind,
        "sha256": loaded.sha256,
        "files": loaded.files,
        "value_range": list(loaded.value_range),
        "latent_shape": list(shape),
        "latent_shift": shift,
        "latent_scale": codec.scale,
    }
    return codec, record, scale_note(loaded.config_scale, std)


def _load_classifier(
    config: FitSettings, data: Dataset, images: Tensor, labels: Tensor, device: torch.device
) -> tuple[Callable[[Tensor], Tensor], dict[str, Any], str | None]:
    settings = config.classifier
    spec = settings.spec
    assert spec is not None
    loaded = load_classifier(
        spec, device=device, preprocess=settings.preprocess, output=settings.output
    )
    loaded.preprocess.check_channels(data.shape[0])
    regressor = settings.kind == "regressor"
    outputs = "value" if regressor else settings.outputs
    fingerprint = probe_classifier(
        loaded.model,
        images[_spread(len(images), 3)],
        spec=loaded.spec,
        outputs=outputs,
        class_names=None if regressor else data.class_names,
        model_names=loaded.class_names,
    )
    note = None
    if not regressor:
        accuracy, chance = probe_accuracy(loaded.model, images, labels, loaded.spec)
        found = f"is right on {accuracy:.3f} of {len(images)} of the run's labelled images"
        if above_chance(accuracy, chance, len(images)):
            found += f" (chance {chance:.3f})"
        else:
            found += (
                f", no better than chance ({chance:.3f}: its answers as if unrelated to the "
                "labels), so its CEs will mean little: check its preprocessing "
                "(classifier.preprocess: mean, std, value_range, channel_order, size) and that "
                "the data's classes (sorted folder names) are in its output order"
            )
        note = f"classifier {loaded.spec} {found}; preprocessing: {loaded.preprocess.describe()}"
    record = {
        "spec": loaded.spec,
        "kind": loaded.kind,
        "sha256": loaded.sha256,
        "files": loaded.files,
        "output": settings.output,
        "preprocess": loaded.preprocess.resolved(),
        "class_names": None if loaded.class_names is None else list(loaded.class_names),
        "fingerprint": fingerprint,
    }
    return loaded.model, record, note


def check_recorded(out: Path, meta: dict[str, Any], user: UserModels) -> None:
    """Refuse to go on fitting a run whose user model changed since it was started: its
    files (SHA-256) or, behind the same files, its answers on the probe batch."""
    for key, what, flag in (
        ("classifier_source", "classifier", "--classifier"),
        ("codec_source", "codec", "--codec"),
    ):
        old, new = meta.get(key), user.meta.get(key)
        if old is None or new is None:
            continue
        if old.get("sha256") != new.get("sha256"):
            raise ValueError(
                f"{what} {new['spec']} has SHA-256 {new['sha256']}, but the run was fitted "
                f"with SHA-256 {old['sha256']}: the run's flow was fitted to the old model, "
                f"so fit this one into a new directory: leapfactual fit --out NEW_DIR "
                f"{flag} {new['spec']}"
            )
        if key == "classifier_source" and "fingerprint" in old and user.classifier is not None:
            shape = meta.get("data", {}).get("shape")
            if shape:
                check_fingerprint(user.classifier, shape, old["fingerprint"], new["spec"])


def reload_user_classifier(
    source: dict[str, Any],
    config: FitSettings,
    out: Path,
    device: torch.device,
    shape: tuple[int, int, int],
) -> Callable[[Tensor], Tensor]:
    """The user classifier a run recorded, checked against every recorded hash and its
    recorded answers on the probe batch; an entry point's module found in the run's or the
    working directory is refused before it is imported."""
    loaded = load_classifier(
        source["spec"],
        expect_sha256=source["sha256"],
        device=device,
        preprocess=config.classifier.preprocess,
        output=config.classifier.output,
        refuse_modules_in=(out, Path.cwd()),
    )
    if "fingerprint" in source:
        check_fingerprint(loaded.model, shape, source["fingerprint"], loaded.spec)
    return loaded.model


def reload_user_codec(
    source: dict[str, Any], config: FitSettings, out: Path, device: torch.device
) -> nn.Module:
    """The user codec a run recorded, checked against its recorded hashes, with the latent
    shift and scale measured when it was fitted."""
    loaded = load_codec(
        source["spec"],
        expect_sha256=source["sha256"],
        device=device,
        value_range=config.codec.value_range,
        latent_shape=source.get("latent_shape"),
        refuse_modules_in=(out, Path.cwd()),
    )
    return Standardised(loaded.model, source["latent_shift"], source["latent_scale"])


__all__ = [
    "UserModels",
    "check_recorded",
    "load_user_models",
    "reload_user_classifier",
    "reload_user_codec",
]
