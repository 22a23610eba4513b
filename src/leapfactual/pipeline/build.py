"""The one way to build and train each model from its settings.

Runs (:func:`leapfactual.pipeline.fit_run`) and every experiment fit their models here, so
a setting means the same everywhere. Each ``fit_*`` seeds the model's initialisation and its
training with the one ``seed`` it is given, and returns the model in eval mode. Class counts
come from the data (``num_classes``) or from the conditions' width.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from leapfactual.explain import Outputs, as_probs, check_rows
from leapfactual.flow import (
    ConditionSpec,
    GaussianSource,
    MLPField,
    Source,
    UNet1DField,
    UNet2DField,
    UniformSource,
    VectorField,
    train_flow,
)
from leapfactual.models import (
    CNNClassifier,
    ConditionalVAE,
    ConvVAE,
    as_float_images,
    as_tensor_outputs,
    train_classifier,
    train_cvae,
    train_regressor,
    train_vae,
)
from leapfactual.pipeline.probe import collapse_probe
from leapfactual.pipeline.settings import ClassifierSettings, FlowSettings, VAESettings

PathLike = str | os.PathLike[str]
PROB_FLOOR = 1e-12
"""A probs classifier's probabilities are clamped to this before the log (it may return 0)."""


def build_vae(settings: VAESettings, channels: int, size: int) -> nn.Module:
    """An untrained VAE of ``settings.kind`` (``auto``: chosen from the images) for
    ``channels`` x ``size`` x ``size`` images."""
    settings = settings.for_images(channels, size)
    if settings.kind == "resnet":
        from leapfactual.models import ResVAE

        return ResVAE(
            channels,
            size,
            settings.latent_dim,
            settings.base_width,
            beta=settings.kl_weight,
            work_size=settings.work_side(size),
        )
    return ConvVAE(channels, size, settings.latent_dim, settings.base_width, settings.kl_weight)


def fit_vae(
    images: Tensor,
    settings: VAESettings,
    seed: int,
    *,
    classifier: Callable[[Tensor], object] | None = None,
    outputs: Outputs = "logits",
    progress: bool = False,
    checkpoint: PathLike | None = None,
    device: str | torch.device | None = None,
    watch: Callable[[Tensor], object] | None = None,
) -> nn.Module:
    """A VAE trained on ``images`` ``[N, C, H, W]`` (MSE + beta KL; with
    ``settings.agreement > 0`` also :func:`agreement_term` of ``classifier``) for
    ``settings.epochs_for(N)`` epochs.

    With ``settings.probe`` the reconstructions of a fixed sample of the images are checked
    once early in training (:func:`~leapfactual.pipeline.probe.collapse_probe`; ``watch``: a
    classifier whose agreement on them is checked too), and training stops with a
    ``ValueError`` naming the fix when they have collapsed."""
    settings = settings.for_images(images.shape[1], images.shape[2])
    settings = replace(settings, epochs=settings.epochs_for(len(images)))
    torch.manual_seed(seed)
    model = build_vae(settings, images.shape[1], images.shape[2])
    term = None
    if settings.agreement > 0:
        if classifier is None:
            raise ValueError(
                "vae.agreement > 0 needs the classifier the codec must agree with; pass it "
                "(fit_run trains or loads it before the VAE)"
            )
        term = agreement_term(classifier, outputs, settings.agreement)
    after_epoch = (
        collapse_probe(model, images, settings, watch, outputs) if settings.probe else None
    )
    with frozen(classifier):
        train_vae(
            model,  # type: ignore[arg-type]
            images,
            settings.epochs,
            settings.batch,
            settings.learning_rate,
            seed,
            progress,
            checkpoint,
            lr_milestones=settings.milestones,
            device=device,
            max_grad_norm=settings.max_grad_norm,
            agreement=term,
            after_epoch=after_epoch,
        )
    return model.eval()


def agreement_term(
    classifier: Callable[[Tensor], object], outputs: Outputs, weight: float
) -> Callable[[Tensor, Tensor], Tensor]:
    """``(x, reconstruction) -> weight * divergence``: how differently ``classifier`` answers
    the reconstruction than the image: KL(p(x) || p(reconstruction)) in nats, batch mean, for
    a classifier; the squared difference of the values for a regressor. Gradients flow
    through the classifier into the reconstruction only (its answer on ``x`` is a constant).
    """

    def answer(x: Tensor) -> Tensor:
        """Log-probabilities (log-softmax of logits, so a confident wrong answer keeps its
        gradient), or a regressor's values."""
        out = as_tensor_outputs(classifier(x))
        if outputs == "logits":
            return F.log_softmax(out.float(), dim=1)
        probs = as_probs(out, outputs)
        return probs if outputs == "value" else probs.clamp_min(PROB_FLOOR).log()

    def term(x: Tensor, reconstruction: Tensor) -> Tensor:
        with torch.no_grad():
            wanted = answer(x)
        got = answer(reconstruction)
        if not got.requires_grad:
            raise ValueError(
                "vae.agreement needs gradients through the classifier, and this one passes "
                "none (an ONNX model, or one run under no_grad); export it with torch.export "
                "instead, or set vae.agreement=0"
            )
        if outputs == "value":
            return weight * (got - wanted).pow(2).mean()
        return weight * (wanted.exp() * (wanted - got)).sum(dim=1).mean()

    return term


@contextmanager
def frozen(model: object) -> Iterator[None]:
    """``model``'s parameters (when it is an ``nn.Module``) need no gradient
    inside the block, so that training another model through it leaves them alone."""
    params = (
        [p for p in model.parameters() if p.requires_grad] if isinstance(model, nn.Module) else []
    )
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def fit_classifier(
    images: Tensor,
    labels: Tensor,
    num_classes: int,
    settings: ClassifierSettings,
    seed: int,
    *,
    progress: bool = False,
    checkpoint: PathLike | None = None,
    device: str | torch.device | None = None,
) -> CNNClassifier:
    """A CNN classifier trained with cross-entropy on ``(images, labels)``."""
    if len(labels) and not 0 <= int(labels.min()) <= int(labels.max()) < num_classes:
        raise ValueError(
            f"labels must lie in 0..{num_classes - 1}, got {int(labels.min())}..{int(labels.max())}"
        )
    torch.manual_seed(seed)
    model = CNNClassifier(images.shape[1], images.shape[2], num_classes, settings.width)
    train_classifier(
        model,
        images,
        labels,
        settings.epochs_for(len(images)),
        settings.batch,
        settings.lr,
        seed,
        settings.augment,
        progress,
        checkpoint,
        device=device,
    )
    return model.eval()


def fit_regressor(
    images: Tensor,
    values: Tensor,
    settings: ClassifierSettings,
    seed: int,
    *,
    progress: bool = False,
    checkpoint: PathLike | None = None,
    device: str | torch.device | None = None,
) -> CNNClassifier:
    """A one-output CNN trained with squared error to return ``values`` ``[N]``."""
    torch.manual_seed(seed)
    model = CNNClassifier(images.shape[1], images.shape[2], 1, settings.width)
    train_regressor(
        model,
        images,
        values,
        settings.epochs_for(len(images)),
        settings.batch,
        settings.lr,
        seed,
        settings.augment,
        progress,
        checkpoint,
        device=device,
    )
    return model.eval()


def build_field(
    settings: FlowSettings,
    latent_dim: int,
    cond_dim: int,
    spec: ConditionSpec | None = None,
    latent_shape: tuple[int, ...] | None = None,
) -> VectorField:
    """An untrained vector field for ``latent_dim`` latents under ``cond_dim`` conditions
    (``spec``: a regressor's ``value`` condition instead of ``settings.condition``;
    ``latent_shape``: the latents' spatial ``(C, h, w)``, which ``unet2d`` needs)."""
    kind = spec.kind if spec is not None else settings.condition
    scale = (spec.mean, spec.std) if spec is not None else None
    if settings.field == "unet2d":
        if latent_shape is None or len(latent_shape) != 3:
            raise ValueError(
                f"flow.field = 'unet2d' works on spatial latents [C, h, w], but this codec's "
                f"latents are flat ({latent_dim} values); use flow.field = 'mlp' or 'unet'"
            )
        return UNet2DField(
            latent_shape,
            cond_dim,
            settings.width,
            settings.depth,
            kind,  # type: ignore[arg-type]
            scale,
        )
    if settings.field == "unet":
        return UNet1DField(
            latent_dim,
            cond_dim,
            settings.width,
            settings.depth,
            kind,  # type: ignore[arg-type]
            scale,
        )
    return MLPField(
        latent_dim,
        cond_dim,
        settings.width,
        settings.depth,
        settings.activation,
        kind,  # type: ignore[arg-type]
        scale,
    )


def condition_images(settings: FlowSettings, images: Tensor, recon: Tensor) -> Tensor:
    """The images whose model outputs condition a flow on the latents of ``images``: their
    reconstructions ``recon`` or the images themselves (``settings.condition_on``)."""
    return images if settings.condition_on == "input" else recon


def fit_flow(
    latents: Tensor,
    probs: Tensor,
    settings: FlowSettings,
    seed: int,
    *,
    progress: bool = False,
    checkpoint: PathLike | None = None,
    device: str | torch.device | None = None,
    regression: bool = False,
    latent_shape: tuple[int, ...] | None = None,
) -> VectorField:
    """A CE-CFM field on ``latents`` conditioned on the annotator's probabilities ``probs``
    ``[N, K]`` (encoded with ``settings.condition``); ``regression``: ``probs`` are a
    regressor's values ``[N, 1]``, encoded standardised by their mean and std (``value``);
    ``latent_shape``: the flat latents' spatial shape (for ``unet2d``)."""
    torch.manual_seed(seed)
    spec = ConditionSpec.of_values(probs) if regression else None
    field = build_field(settings, latents.shape[1], probs.shape[1], spec, latent_shape)
    if device is not None:
        field.to(device)
    train_flow(
        field,
        latents,
        field.condition.from_probs(probs),
        settings.epochs_for(len(latents)),
        settings.batch,
        settings.lr,
        lr_milestones=settings.lr_milestones,
        source=flow_source(settings),
        sigma=settings.sigma,
        coupling=settings.coupling,  # type: ignore[arg-type]
        seed=seed,
        progress=progress,
        checkpoint=checkpoint,
    )
    return field.eval()


def flow_source(settings: FlowSettings) -> Source:
    """The noise distribution at t = 0 that ``settings`` name."""
    if settings.source == "uniform":
        return UniformSource(*settings.source_bounds)
    return GaussianSource()


def fit_flow_for(
    classifier: Callable[[Tensor], object],
    codec: object,
    images: Tensor,
    settings: FlowSettings,
    seed: int,
    *,
    outputs: Outputs = "logits",
    progress: bool = False,
    checkpoint: PathLike | None = None,
    device: str | torch.device | None = None,
) -> VectorField:
    """The flow a run fits for ``classifier``: on the latents of ``images`` under ``codec``,
    conditioned on the classifier's outputs on their reconstructions or on ``images``
    (``settings.condition_on``); a regressor (``outputs="value"``) on its values."""
    latents, recon = encode_decode(codec, images)
    probs = predict_probs(classifier, condition_images(settings, images, recon), outputs)
    return fit_flow(
        latents,
        probs,
        settings,
        seed,
        progress=progress,
        checkpoint=checkpoint,
        device=device,
        regression=outputs == "value",
        latent_shape=getattr(codec, "latent_shape", None),
    )


def fit_cvae(
    images: Tensor,
    probs: Tensor,
    settings: VAESettings,
    seed: int,
    *,
    progress: bool = False,
    checkpoint: PathLike | None = None,
    device: str | torch.device | None = None,
) -> ConditionalVAE:
    """The CGM baseline's conditional VAE (always convolutional), on ``images`` under the
    classifier's ``probs``."""
    settings = replace(settings, kind="conv") if settings.kind == "auto" else settings
    torch.manual_seed(seed)
    model = ConditionalVAE(
        images.shape[1], images.shape[2], settings.latent_dim, probs.shape[1], settings.base_width
    )
    train_cvae(
        model,
        images,
        probs,
        settings.epochs_for(len(images)),
        settings.batch,
        settings.learning_rate,
        seed,
        progress,
        checkpoint,
        device=device,
    )
    return model.eval()


@torch.no_grad()
def predict_probs(
    classifier: Callable[[Tensor], object],
    images: Tensor,
    outputs: Outputs = "logits",
    batch: int = 512,
    device: str | torch.device | None = None,
) -> Tensor:
    """The classifier's probabilities ``[N, K]`` on ``images`` (batched, on the CPU)."""
    device = device if device is not None else model_device(classifier)
    parts = []
    for i in range(0, len(images), batch):
        x = as_float_images(images[i : i + batch]).to(device)
        out = check_rows(as_tensor_outputs(classifier(x)), len(x), "classifier", classifier)
        parts.append(as_probs(out, outputs).float().cpu())
    return torch.cat(parts)


@torch.no_grad()
def encode_decode(
    codec: object, images: Tensor, batch: int = 512, device: str | torch.device | None = None
) -> tuple[Tensor, Tensor]:
    """Latents of ``images`` and their decodings (batched, on the CPU)."""
    device = device if device is not None else model_device(codec)
    latents, recon = [], []
    for i in range(0, len(images), batch):
        z = codec.encode(as_float_images(images[i : i + batch]).to(device))  # type: ignore[attr-defined]
        latents.append(z.cpu())
        recon.append(codec.decode(z).cpu())  # type: ignore[attr-defined]
    return torch.cat(latents), torch.cat(recon)


def model_device(model: object) -> torch.device:
    """Where an ``nn.Module``'s parameters are (the CPU for anything else)."""
    if isinstance(model, nn.Module):
        for tensor in [*model.parameters(), *model.buffers()]:
            return tensor.device
    return torch.device("cpu")


__all__ = [
    "build_field",
    "build_vae",
    "condition_images",
    "encode_decode",
    "fit_classifier",
    "fit_cvae",
    "fit_flow",
    "fit_flow_for",
    "fit_regressor",
    "fit_vae",
    "model_device",
    "predict_probs",
]
