"""What the reliability experiments share: a weak and a strong classifier on one codec.

The model-truth divergence and model-improvement experiments (METHOD.md 5.3) explain a *weak*
classifier (trained on a fraction of the labelled training set) and judge it against a
*strong* one (trained on all of it). The VAE is unsupervised, so it is fitted on every
training image; the CE-CFM flow is fitted on the latents of every training image conditioned
on the weak classifier's softmax (it needs the model's outputs, not the labels).
"""

from __future__ import annotations

import math
import platform
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from leapfactual.data import Dataset, stratified_split
from leapfactual.flow import MLPField, VectorField, train_flow
from leapfactual.models import (
    CNNClassifier,
    ConditionalVAE,
    ConvVAE,
    train_classifier,
    train_cvae,
    train_vae,
)
from leapfactual.pipeline import FitConfig

LEAN = FitConfig(
    latent_dim=16,
    vae_width=16,
    vae_epochs=8,
    classifier_width=16,
    classifier_epochs=8,
    cvae_epochs=8,
)
"""Model sizes and epochs of the reliability experiments, lean enough for a busy 2-core CPU.
They read only the model settings of a :class:`FitConfig` (:data:`MODEL_SETTINGS`); data,
split and seeds are the experiment's own."""

MODEL_SETTINGS = (
    "latent_dim",
    "vae_width",
    "vae_epochs",
    "vae_lr",
    "vae_batch",
    "classifier_width",
    "classifier_epochs",
    "classifier_lr",
    "classifier_batch",
    "classifier_augment",
    "flow_width",
    "flow_depth",
    "flow_activation",
    "flow_epochs",
    "flow_lr",
    "flow_batch",
    "cvae_epochs",
)


def model_settings(cfg: FitConfig) -> dict[str, object]:
    """The settings of ``cfg`` these experiments use, for results pages."""
    return {k: getattr(cfg, k) for k in MODEL_SETTINGS}


@dataclass
class WeakStrong:
    """The codec, the weak (explained) and strong (truth) classifiers, the weak model's flow,
    and optionally a CVAE on the weak model's softmax (for the CGM baseline)."""

    vae: ConvVAE
    weak: CNNClassifier
    strong: CNNClassifier
    flow: VectorField
    weak_idx: Tensor
    cvae: ConditionalVAE | None = None


def fit_vae(images: Tensor, cfg: FitConfig, seed: int) -> ConvVAE:
    """A ConvVAE fitted on ``images`` (seeded), in eval mode."""
    torch.manual_seed(seed)
    vae = ConvVAE(images.shape[1], images.shape[2], cfg.latent_dim, cfg.vae_width)
    train_vae(vae, images, cfg.vae_epochs, cfg.vae_batch, cfg.vae_lr, seed)
    return vae.eval()


def fit_classifier(images: Tensor, labels: Tensor, cfg: FitConfig, seed: int) -> CNNClassifier:
    """A CNN classifier fitted on ``(images, labels)`` (seeded), in eval mode."""
    torch.manual_seed(seed)
    model = CNNClassifier(images.shape[1], images.shape[2], 10, cfg.classifier_width)
    if int(labels.max()) >= 10:
        raise ValueError(f"labels must lie in 0-9 for these experiments, got {int(labels.max())}")
    train_classifier(
        model,
        images,
        labels,
        cfg.classifier_epochs,
        cfg.classifier_batch,
        cfg.classifier_lr,
        seed,
        cfg.classifier_augment,
    )
    return model.eval()


@torch.no_grad()
def predict_probs(model: Callable[[Tensor], Tensor], images: Tensor, batch: int = 1024) -> Tensor:
    """Softmax of ``model`` on ``images`` (batched, no gradients)."""
    return torch.cat(
        [model(images[i : i + batch]).softmax(1) for i in range(0, len(images), batch)]
    )


@torch.no_grad()
def latents_and_recon(vae: ConvVAE, images: Tensor, batch: int = 1024) -> tuple[Tensor, Tensor]:
    """Encoder means of ``images`` and their decodings."""
    z = torch.cat([vae.encode(images[i : i + batch]) for i in range(0, len(images), batch)])
    recon = torch.cat([vae.decode(z[i : i + batch]) for i in range(0, len(z), batch)])
    return z, recon


def fit_flow(annotator_probs: Tensor, latents: Tensor, cfg: FitConfig, seed: int) -> MLPField:
    """A CE-CFM field on ``latents`` conditioned on ``annotator_probs`` (softmax encoding)."""
    torch.manual_seed(seed)
    field = MLPField(
        latents.shape[1],
        annotator_probs.shape[1],
        cfg.flow_width,
        cfg.flow_depth,
        cfg.flow_activation,  # type: ignore[arg-type]
    )
    conditions = field.condition.from_probs(annotator_probs)
    train_flow(field, latents, conditions, cfg.flow_epochs, cfg.flow_batch, cfg.flow_lr, seed=seed)
    return field.eval()


def fit_weak_strong(
    train: Dataset,
    cfg: FitConfig,
    seed: int,
    weak_fraction: float = 0.2,
    vae: ConvVAE | None = None,
    cvae: bool = False,
) -> WeakStrong:
    """Fit the weak classifier on a stratified ``weak_fraction`` of ``train`` (seeded), the
    strong one on all of it, the flow on the weak model, and (``cvae``) the CGM baseline's
    CVAE. ``vae`` reuses a fitted codec instead of fitting one."""
    if not 0.0 < weak_fraction <= 1.0:
        raise ValueError(f"weak_fraction must lie in (0, 1], got {weak_fraction}")
    vae = vae if vae is not None else fit_vae(train.images, cfg, seed)
    (weak_idx,) = stratified_split(train.labels, [weak_fraction], seed)
    weak = fit_classifier(train.images[weak_idx], train.labels[weak_idx], cfg, seed + 1)
    strong = fit_classifier(train.images, train.labels, cfg, seed + 2)
    z, recon = latents_and_recon(vae, train.images)
    flow = fit_flow(predict_probs(weak, recon), z, cfg, seed + 3)
    model = WeakStrong(vae, weak, strong, flow, weak_idx)
    if cvae:
        torch.manual_seed(seed + 4)
        c, s = train.shape[0], train.shape[1]
        model.cvae = ConditionalVAE(c, s, cfg.latent_dim, 10, cfg.vae_width)
        train_cvae(
            model.cvae,
            train.images,
            predict_probs(weak, train.images),
            cfg.cvae_epochs,
            cfg.vae_batch,
            cfg.vae_lr,
            seed + 4,
        )
        model.cvae.eval()
    return model


def machine() -> str:
    """The machine in words, for results pages."""
    return (
        f"{platform.machine()} {platform.system()}, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}"
    )


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


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"0,1,2"`` -> ``(0, 1, 2)``."""
    try:
        seeds = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise ValueError(f"seeds must be comma-separated integers, got {text!r}") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"give at least one seed and no repeats, got {text!r}")
    return seeds


def pyplot():  # type: ignore[no-untyped-def]
    """matplotlib.pyplot on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def relative(path: Path, start: Path) -> str:
    """``path`` relative to ``start`` when below it, else absolute (for Markdown links)."""
    try:
        return str(path.resolve().relative_to(start.resolve()))
    except ValueError:
        return str(path.resolve())
