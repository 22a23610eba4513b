"""What the reliability experiments share: a weak and a strong classifier on one codec.

The model-truth divergence and model-improvement experiments (docs/method.md §5, §6.3)
explain a *weak* classifier (trained on a fraction of the labelled training set) and judge it
against a *strong* one (trained on all of it). The VAE is unsupervised, so it is fitted on every
training image; the CE-CFM flow is fitted on the latents of every training image conditioned
on the weak classifier's softmax (it needs the model's outputs, not the labels). Every model
is built by :mod:`leapfactual.pipeline.build`.
"""

from __future__ import annotations

import math
import shutil
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from leapfactual.data import Dataset, stratified_split
from leapfactual.distributed import resolve_device
from leapfactual.flow import VectorField
from leapfactual.pipeline import (
    ClassifierSettings,
    FitSettings,
    Run,
    VAESettings,
    fit_classifier,
    fit_cvae,
    fit_flow_for,
    fit_vae,
    predict_probs,
    to_dict,
)

LEAN = FitSettings(
    vae=VAESettings(latent_dim=16, width=16, epochs=8),
    classifier=ClassifierSettings(width=16, epochs=8),
    cvae=VAESettings(latent_dim=16, width=16, epochs=8),
)
"""Model sizes and epochs of the reliability experiments, lean enough for a busy 2-core CPU.
They read only the model settings of a :class:`FitSettings` (``vae``, ``classifier``,
``flow``, ``cvae``); data, split and seeds are the experiment's own."""

MODEL_SETTINGS = ("vae", "classifier", "flow", "cvae")


def verdict_words(run: Run) -> str:
    """A run's verdict in a word or two: ``trusted``, ``caution (flow_samples)``."""
    verdict = run.verdict
    if verdict is None:
        return "unknown"
    if verdict.level == "trusted":
        return "trusted"
    return f"{verdict.level} ({', '.join(c.name for c in verdict.reasons)})"


def model_settings(cfg: FitSettings) -> dict[str, Any]:
    """The settings of ``cfg`` these experiments use, for results pages."""
    return {k: to_dict(getattr(cfg, k)) for k in MODEL_SETTINGS}


@dataclass
class WeakStrong:
    """The codec, the weak (explained) and strong (truth) classifiers, the weak model's flow,
    and optionally a CVAE on the weak model's softmax (for the CGM baseline)."""

    vae: nn.Module
    weak: nn.Module
    strong: nn.Module
    flow: VectorField
    weak_idx: Tensor
    cvae: nn.Module | None = None


def fit_weak_strong(
    train: Dataset,
    cfg: FitSettings,
    seed: int,
    weak_fraction: float = 0.2,
    vae: nn.Module | None = None,
    cvae: bool = False,
    device: str | torch.device | None = None,
) -> WeakStrong:
    """Fit the weak classifier on a stratified ``weak_fraction`` of ``train`` (seeded), the
    strong one on all of it, the flow on the weak model, and (``cvae``) the CGM baseline's
    CVAE, on ``device``. ``vae`` reuses a fitted codec instead of fitting one.

    Seeds: VAE ``seed``, weak ``seed + 1``, strong ``seed + 2``, flow ``seed + 3``, CVAE
    ``seed + 4``."""
    if not 0.0 < weak_fraction <= 1.0:
        raise ValueError(f"weak_fraction must lie in (0, 1], got {weak_fraction}")
    on = resolve_device(device)
    vae = vae if vae is not None else fit_vae(train.images, cfg.vae, seed, device=on)
    (weak_idx,) = stratified_split(train.labels, [weak_fraction], seed)
    k = train.num_classes
    x, y = train.images, train.labels
    weak = fit_classifier(x[weak_idx], y[weak_idx], k, cfg.classifier, seed + 1, device=on)
    strong = fit_classifier(x, y, k, cfg.classifier, seed + 2, device=on)
    flow = fit_flow_for(weak, vae, train.images, cfg.flow, seed + 3, device=on)
    model = WeakStrong(vae, weak, strong, flow, weak_idx)
    if cvae:
        probs = predict_probs(weak, train.images)
        model.cvae = fit_cvae(train.images, probs, cfg.cvae, seed + 4, device=on)
    return model


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value; NaNs ignored)."""
    clean = [v for v in values if not math.isnan(v)]
    if not clean:
        return math.nan, math.nan
    return statistics.fmean(clean), statistics.stdev(clean) if len(clean) > 1 else 0.0


def pm(values: Sequence[float], digits: int = 3) -> str:
    """``mean ± std`` of ``values`` as text."""
    mean, std = mean_std(values)
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def share_stages(source: Path, out: Path, keep: Sequence[str]) -> None:
    """Start the run ``out`` with ``source``'s split and the ``keep`` stages' files (nothing
    when ``out`` exists already: a rerun resumes it)."""
    if out.exists():
        return
    out.mkdir(parents=True)
    for stem in ("split", *keep):
        for suffix in (".safetensors", ".json"):
            file = source / f"{stem}{suffix}"
            if file.exists():
                shutil.copyfile(file, out / file.name)
