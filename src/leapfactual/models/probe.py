"""The load-time probe of a model made elsewhere: before anything trains on its answers, call
it on the run's own images at two batch sizes and check what comes back; then record its
behaviour on a fixed probe batch, so that a model changed behind the same file is noticed.

Every exception the model raises becomes one ``ValueError`` naming the model's spec and the
step; a ``torch.export`` program or ONNX graph exported with a fixed batch size gets the
export line that makes the batch dynamic.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from leapfactual.models.external import (
    EXPORT_LINE,
    ONNX_EXPORT_LINE,
    ModelInputError,
    first_line,
)

PROBE_BATCHES = (1, 3)
"""Batch sizes every user model is called with before any training."""
FINGERPRINT_IMAGES = 3
FINGERPRINT_SEED = 0
FINGERPRINT_TOLERANCE = 1e-3
"""Largest change of a recorded output, relative to the outputs' scale (at least 1), that
still counts as the same model (float rounding on another device or thread count)."""
PROBS_TOLERANCE = 1e-3
STATIC_BATCH = re.compile(r"(?:size\(\)\[0\]|shape\[0\]) (?:==|to be equal to) (\d+)")
"""How torch.export's guard names a batch size fixed at export (``x.size()[0] == 2``)."""


def probe_images(shape: Sequence[int], count: int = FINGERPRINT_IMAGES) -> Tensor:
    """The fixed probe batch for images of ``shape`` ``(C, H, W)``: seeded uniform noise in
    [0, 1] (the same on every machine), so no training data is needed to compare."""
    generator = torch.Generator().manual_seed(FINGERPRINT_SEED)
    return torch.rand(count, *shape, generator=generator)


def call_model(model: Callable[[Tensor], Any], x: Tensor, spec: str, step: str) -> Tensor:
    """``model(x)`` as a Tensor; whatever the model raises becomes one line naming ``spec``
    and ``step`` (a fixed-batch export: the dynamic-batch export line)."""
    raw = getattr(model, "raw", None)
    choose = getattr(model, "choose", None)
    try:
        out = raw(x) if raw is not None else model(x)
    except (MemoryError, ModelInputError):
        raise
    except Exception as err:
        text = first_line(err)
        fixed = STATIC_BATCH.search(text)
        if fixed is not None and int(fixed[1]) != len(x):
            raise ValueError(
                f"classifier {spec} was exported with a fixed batch size of {fixed[1]} "
                f"({text}) and fails on a batch of {len(x)}; export it with a dynamic batch "
                f"size: {ONNX_EXPORT_LINE if spec.endswith('.onnx') else EXPORT_LINE}"
            ) from err
        raise ValueError(
            f"classifier {spec} failed while {step} of shape {list(x.shape)} "
            f"({type(err).__name__}: {text})"
        ) from err
    return choose(out) if choose is not None else out


@torch.no_grad()
def probe_classifier(
    model: Callable[[Tensor], Any],
    images: Tensor,
    *,
    spec: str,
    outputs: str = "logits",
    class_names: Sequence[str] | None = None,
    model_names: Sequence[str] | None = None,
) -> list[list[float]]:
    """Check a user classifier on ``images`` (the run's, float in [0, 1]) and return its
    behaviour fingerprint (its outputs on :func:`probe_images`).

    At batch sizes 1 and 3 its outputs must be ``[B, K]`` (``[B]`` or ``[B, 1]`` values for
    ``outputs="value"``), finite, with the same K, and K must be the number of
    ``class_names`` (the data's classes); ``outputs="probs"`` rows must be probabilities;
    ``model_names`` (the model's own class names, in output order) must be the data's
    classes in that order; two calls on the same images must agree (no dropout left on).
    """
    widths = []
    for batch in PROBE_BATCHES:
        x = images[torch.arange(batch) % len(images)]
        out = call_model(model, x, spec, f"probing it with a batch of {batch} image(s)")
        widths.append(_check_rows(out, batch, spec, outputs))
    if outputs != "value":
        if len(set(widths)) != 1:
            raise ValueError(
                f"classifier {spec} returns {widths[0]} outputs per image for a batch of "
                f"{PROBE_BATCHES[0]} but {widths[1]} for a batch of {PROBE_BATCHES[1]}; it "
                "must answer every batch with [B, K]"
            )
        if class_names is not None:
            _check_classes(spec, widths[0], list(class_names), model_names)
    fixed = probe_images(images.shape[1:]).to(images.device, images.dtype)
    first = call_model(model, fixed, spec, "computing its fingerprint on the probe images")
    again = call_model(model, fixed, spec, "computing its fingerprint on the probe images")
    _check_rows(first, len(fixed), spec, outputs)
    if not torch.equal(first, again) and _difference(first, again) > FINGERPRINT_TOLERANCE:
        raise ValueError(
            f"classifier {spec} answers the same images differently on two calls (largest "
            f"change {_difference(first, again):.3g}): it is random (dropout left on?); put it "
            "in eval mode before exporting, or make it deterministic"
        )
    return [[float(v) for v in row] for row in first.detach().float().cpu().reshape(len(fixed), -1)]


@torch.no_grad()
def check_fingerprint(
    model: Callable[[Tensor], Any],
    shape: Sequence[int],
    recorded: Sequence[Sequence[float]],
    spec: str,
) -> None:
    """Raise unless ``model`` answers :func:`probe_images` of ``shape`` as ``recorded``."""
    fixed = probe_images(shape)
    out = call_model(model, fixed, spec, "comparing its fingerprint with the run's")
    now = out.detach().float().cpu().reshape(len(fixed), -1)
    before = torch.tensor(recorded, dtype=torch.float32)
    if now.shape != before.shape or _difference(now, before) > FINGERPRINT_TOLERANCE:
        change = f"{_difference(now, before):.3g}" if now.shape == before.shape else "shape"
        raise ValueError(
            f"classifier {spec} answers the run's probe images differently than when the run "
            f"was fitted (largest change: {change}): the model changed although its files did "
            "not (weights loaded from elsewhere?); the run's flow was fitted to the old "
            f"model's outputs, so re-fit into a new directory: leapfactual fit --out NEW_DIR "
            f"--classifier {spec}"
        )


@torch.no_grad()
def probe_accuracy(
    model: Callable[[Tensor], Any], images: Tensor, labels: Tensor, spec: str, batch: int = 64
) -> tuple[float, float]:
    """The accuracy of a classifier that passed :func:`probe_classifier` on labelled
    ``images``, and chance: the accuracy its answers would have if they were unrelated to the
    labels (the sum over classes of how often it answers a class times how often the class
    occurs)."""
    answers = torch.cat(
        [
            call_model(model, x, spec, "measuring its accuracy on the run's images")
            .argmax(dim=1)
            .cpu()
            for x in images.split(batch)
        ]
    )
    labels = labels.cpu()
    classes = int(max(answers.max(), labels.max())) + 1
    answered = torch.bincount(answers, minlength=classes) / len(labels)
    occurs = torch.bincount(labels, minlength=classes) / len(labels)
    return float((answers == labels).float().mean()), float((answered * occurs).sum())


def above_chance(accuracy: float, chance: float, count: int) -> bool:
    """Whether an accuracy on ``count`` images exceeds chance by more than three standard
    errors."""
    return accuracy > chance + 3 * math.sqrt(chance * (1 - chance) / count)


def _difference(a: Tensor, b: Tensor) -> float:
    scale = max(1.0, float(b.abs().max()) if b.numel() else 1.0)
    return float((a.float() - b.float()).abs().max()) / scale if a.numel() else 0.0


def _check_rows(out: Any, batch: int, spec: str, outputs: str) -> int:
    if not isinstance(out, Tensor):
        raise ValueError(f"classifier {spec} returned {type(out).__name__}, not a Tensor")
    shape = tuple(out.shape)
    if outputs == "value":
        if not (shape == (batch,) or shape == (batch, 1)):
            raise ValueError(
                f"regressor {spec} returned shape {shape} for a batch of {batch}; it must "
                "return one value per image, [B] or [B, 1]"
            )
    elif len(shape) != 2 or shape[0] != batch:
        raise ValueError(
            f"classifier {spec} returned shape {shape} for a batch of {batch} image(s); it "
            "must return [B, K] logits (or probabilities with classifier.outputs = 'probs'; a "
            "regressor [B] or [B, 1] values with classifier.kind = 'regressor')"
        )
    if not out.is_floating_point():
        raise ValueError(
            f"classifier {spec} returned {out.dtype} outputs of shape {shape}; it must return "
            "float scores (for several outputs, choose the scores: classifier.output)"
        )
    bad = ~torch.isfinite(out).reshape(batch, -1).all(dim=1)
    if bool(bad.any()):
        raise ValueError(
            f"classifier {spec} returned NaN or infinite outputs for {int(bad.sum())} of "
            f"{batch} probe image(s) before any training: its weights may be damaged (NaN) or "
            "it overflows on images in [0, 1]; check the model and its preprocessing"
        )
    sums = out.sum(dim=1) if outputs != "value" else out
    looks_like_probs = (
        outputs == "logits"
        and out.shape[1] > 1
        and float(out.min()) >= 0
        and float(out.max()) <= 1
        and bool(((sums - 1).abs() <= PROBS_TOLERANCE).all())
    )
    if looks_like_probs:
        raise ValueError(
            f"classifier {spec} returns probabilities (every row in [0, 1], summing to 1), but "
            "classifier.outputs = 'logits'; set classifier.outputs = 'probs' (--set "
            "classifier.outputs=probs)"
        )
    if outputs == "probs":
        low, high = float(out.min()), float(out.max())
        if (
            low < -PROBS_TOLERANCE
            or high > 1 + PROBS_TOLERANCE
            or bool(((sums - 1).abs() > PROBS_TOLERANCE).any())
        ):
            raise ValueError(
                f"classifier.outputs = 'probs', but classifier {spec} returns rows that are not "
                f"probabilities (values in [{low:.3g}, {high:.3g}], row sums "
                f"{float(sums.min()):.3g} to {float(sums.max()):.3g}): it returns logits; set "
                "classifier.outputs = 'logits' (the default)"
            )
    return 1 if outputs == "value" else int(out.shape[1])


def _check_classes(
    spec: str, width: int, names: list[str], model_names: Sequence[str] | None
) -> None:
    if width != len(names):
        shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
        raise ValueError(
            f"classifier {spec} returns {width} scores per image, but the data has "
            f"{len(names)} classes ({shown}); explain a classifier of these classes (if the "
            "model has several outputs, choose the class scores: classifier.output = INDEX or "
            "NAME)"
        )
    if model_names is None:
        return
    if not all(
        _same_class(k, data, model)
        for k, (data, model) in enumerate(zip(names, model_names, strict=False))
    ) or len(model_names) != len(names):
        raise ValueError(
            f"classifier {spec} names its classes, in its output order (id2label), "
            f"{list(model_names)}, but the data's classes (sorted folder names) are {names}; "
            "name the class folders so that they sort in the model's order, e.g. "
            f"{', '.join(f'{k}-{n}' for k, n in enumerate(model_names[:3]))}"
        )


def _same_class(index: int, folder: str, label: str) -> bool:
    """A data class and a model's label agree: equal, or the folder is ``INDEX-label`` /
    ``INDEX_label`` (how folders are named to sort in the model's order)."""
    found = re.fullmatch(r"(\d+)[-_](.+)", folder)
    return folder == label or (found is not None and int(found[1]) == index and found[2] == label)


__all__ = [
    "FINGERPRINT_TOLERANCE",
    "PROBE_BATCHES",
    "above_chance",
    "call_model",
    "check_fingerprint",
    "probe_accuracy",
    "probe_classifier",
    "probe_images",
]
