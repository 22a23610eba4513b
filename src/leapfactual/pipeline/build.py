"""The one way to build and train each model from its settings.

To *fit* is to build a model from its settings and train it (``fit_*`` here, the door users
and runs take); to *train* is to run the training loop on a model already built, with every
number given (``train_*``, which the ``fit_*`` call). Runs
(:func:`leapfactual.pipeline.fit_run`) and every experiment fit their models here, so a
setting means the same everywhere. Each ``fit_*`` takes its data, its settings and the one
``seed`` that seeds the model's initialisation and its training, and returns the model in
eval mode. Class counts come from the data (``num_classes``) or from the conditions' width.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, cast

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from leapfactual.explain import Outputs, as_probs, check_rows
from leapfactual.flow import (
    ConditionKind,
    ConditionSpec,
    Coupling,
    GaussianSource,
    MLPField,
    Source,
    UNet1DField,
    UNet2DField,
    UniformSource,
    VectorField,
    cfm_loss,
    train_flow,
)
from leapfactual.models import (
    VAE,
    CNNClassifier,
    Codec,
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
from leapfactual.pipeline.stopping import held_out_loss, holdout_split, plateau_for, stop_record

PathLike = str | os.PathLike[str]
PROB_FLOOR = 1e-12
"""A probs classifier's probabilities are clamped to this before the log (it may return 0)."""


def build_vae(settings: VAESettings, channels: int, size: int) -> VAE:
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
    record: dict[str, Any] | None = None,
) -> nn.Module:
    """A VAE trained on ``images`` ``[N, C, H, W]`` (MSE + beta KL; with
    ``settings.agreement > 0`` also :func:`agreement_term` of ``classifier``) for
    ``settings.epochs_for(N)`` epochs, or fewer on a held-out plateau (``settings.patience``;
    its held-out loss is MSE + beta KL; ``record``: filled with where and why it stopped, see
    :mod:`leapfactual.pipeline.stopping`).

    With ``settings.probe`` the reconstructions of a fixed sample of the images are checked
    once early in training (:func:`~leapfactual.pipeline.probe.collapse_probe`; ``watch``: a
    classifier whose agreement on them is checked too), and training stops with a
    ``ValueError`` naming the fix when they have collapsed."""
    settings = settings.for_images(images.shape[1], images.shape[2])
    held = None
    if settings.patience:
        train_idx, held_idx = holdout_split(len(images), seed)
        images, held = images[train_idx], images[held_idx]
    settings = replace(settings, epochs=settings.epochs_for(len(images)))
    torch.manual_seed(seed)
    model = build_vae(settings, images.shape[1], images.shape[2])
    vae = model

    def vae_loss(batch: Sequence[Tensor]) -> Tensor:
        x = as_float_images(batch[0])
        return vae.loss(x, torch.Generator(x.device).manual_seed(seed))[0]

    plateau = (
        None
        if held is None
        else plateau_for(settings, len(images), held_out_loss(model, vae_loss, [held]), checkpoint)
    )
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
    with frozen(classifier), layout(model, settings.channels_last):
        train_vae(
            model,  # type: ignore[arg-type]
            images,
            epochs=settings.epochs,
            batch_size=settings.batch_size,
            lr=settings.learning_rate,
            seed=seed,
            progress=progress,
            checkpoint=checkpoint,
            lr_milestones=settings.milestones,
            device=device,
            max_grad_norm=settings.max_grad_norm,
            agreement=term,
            after_epoch=after_epoch,
            stop=plateau,
        )
    stop_record(settings, len(images), plateau, record)
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
    record: dict[str, Any] | None = None,
) -> CNNClassifier:
    """A CNN classifier trained with cross-entropy on ``(images, labels)`` (early stopping on
    the held-out cross-entropy, without shifts: see :func:`fit_vae`)."""
    if len(labels) and not 0 <= int(labels.min()) <= int(labels.max()) < num_classes:
        raise ValueError(
            f"labels must lie in 0..{num_classes - 1}, got {int(labels.min())}..{int(labels.max())}"
        )
    torch.manual_seed(seed)
    model = CNNClassifier(images.shape[1], images.shape[2], num_classes, settings.width)
    images, labels, plateau = _held_out(
        model,
        images,
        labels,
        settings,
        seed,
        lambda b: F.cross_entropy(model(as_float_images(b[0])), b[1].long()),
        checkpoint,
    )
    with layout(model, settings.channels_last):
        train_classifier(
            model,
            images,
            labels,
            epochs=settings.epochs_for(len(images)),
            batch_size=settings.batch_size,
            lr=settings.lr,
            seed=seed,
            augment=settings.augment,
            progress=progress,
            checkpoint=checkpoint,
            device=device,
            stop=plateau,
        )
    stop_record(settings, len(images), plateau, record)
    return model.eval()


@contextmanager
def layout(model: nn.Module, channels_last: bool) -> Iterator[None]:
    """Inside the block ``model``'s weights are in the channels-last memory layout when
    ``channels_last`` (the convolutions then run channels-last); after it, in the usual one."""
    if not channels_last:
        yield
        return
    to_memory_format(model, torch.channels_last)
    try:
        yield
    finally:
        to_memory_format(model, torch.contiguous_format)


def to_memory_format(model: nn.Module, memory_format: torch.memory_format) -> None:
    """``model.to(memory_format=...)``, which torch has and its type stubs lack."""
    model.to(memory_format=memory_format)  # type: ignore[call-overload]


def _held_out(
    model: nn.Module,
    images: Tensor,
    targets: Tensor,
    settings: ClassifierSettings | FlowSettings | VAESettings,
    seed: int,
    loss: Callable[[Sequence[Tensor]], Tensor],
    checkpoint: PathLike | None,
) -> tuple[Tensor, Tensor, Any]:
    """``(images, targets)`` to train on and the stage's plateau: all of them and None when
    ``settings.patience`` is 0, else the rest after :func:`holdout_split` and a
    :class:`~leapfactual.training.Plateau` on ``loss`` over the held-out part."""
    if not settings.patience:
        return images, targets, None
    train_idx, held_idx = holdout_split(len(images), seed)
    held = [images[held_idx], targets[held_idx]]
    evaluate = held_out_loss(model, loss, held)
    plateau = plateau_for(settings, len(train_idx), evaluate, checkpoint)
    return images[train_idx], targets[train_idx], plateau


def fit_regressor(
    images: Tensor,
    values: Tensor,
    settings: ClassifierSettings,
    seed: int,
    *,
    progress: bool = False,
    checkpoint: PathLike | None = None,
    device: str | torch.device | None = None,
    record: dict[str, Any] | None = None,
) -> CNNClassifier:
    """A one-output CNN trained with squared error to return ``values`` ``[N]`` (early
    stopping on the held-out squared error: see :func:`fit_vae`)."""
    torch.manual_seed(seed)
    model = CNNClassifier(images.shape[1], images.shape[2], 1, settings.width)
    images, values, plateau = _held_out(
        model,
        images,
        values,
        settings,
        seed,
        lambda b: F.mse_loss(model(as_float_images(b[0]))[:, 0], b[1].float()),
        checkpoint,
    )
    train_regressor(
        model,
        images,
        values,
        epochs=settings.epochs_for(len(images)),
        batch_size=settings.batch_size,
        lr=settings.lr,
        seed=seed,
        augment=settings.augment,
        progress=progress,
        checkpoint=checkpoint,
        device=device,
        stop=plateau,
    )
    stop_record(settings, len(images), plateau, record)
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
    # FlowSettings checked its condition is one of the kinds when it was made
    kind = spec.kind if spec is not None else cast(ConditionKind, settings.condition)
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
            kind,
            scale,
        )
    if settings.field == "unet":
        return UNet1DField(
            latent_dim,
            cond_dim,
            settings.width,
            settings.depth,
            kind,
            scale,
        )
    return MLPField(
        latent_dim,
        cond_dim,
        settings.width,
        settings.depth,
        settings.activation,
        kind,
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
    record: dict[str, Any] | None = None,
) -> VectorField:
    """A CE-CFM field on ``latents`` conditioned on the annotator's probabilities ``probs``
    ``[N, K]`` (encoded with ``settings.condition``); ``regression``: ``probs`` are a
    regressor's values ``[N, 1]``, encoded standardised by their mean and std (``value``);
    ``latent_shape``: the flat latents' spatial shape (for ``unet2d``). Early stopping on
    the held-out CFM loss under one fixed noise draw: see :func:`fit_vae`."""
    torch.manual_seed(seed)
    spec = ConditionSpec.of_values(probs) if regression else None
    field = build_field(settings, latents.shape[1], probs.shape[1], spec, latent_shape)
    if device is not None:
        field.to(device)
    source = flow_source(settings)

    def flow_loss(batch: Sequence[Tensor]) -> Tensor:
        noise = torch.Generator(batch[0].device).manual_seed(seed)
        return cfm_loss(field, batch[0], batch[1], noise, source, settings.sigma, "independent")

    latents, conditions, plateau = _held_out(
        field, latents, field.condition.from_probs(probs), settings, seed, flow_loss, checkpoint
    )
    train_flow(
        field,
        latents,
        conditions,
        epochs=settings.epochs_for(len(latents)),
        batch_size=settings.batch_size,
        lr=settings.lr,
        lr_milestones=settings.lr_milestones,
        source=source,
        sigma=settings.sigma,
        coupling=cast(Coupling, settings.coupling),  # FlowSettings checked it
        seed=seed,
        progress=progress,
        checkpoint=checkpoint,
        stop=plateau,
    )
    stop_record(settings, len(latents), plateau, record)
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
    record: dict[str, Any] | None = None,
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
        record=record,
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
    record: dict[str, Any] | None = None,
) -> ConditionalVAE:
    """The CGM baseline's conditional VAE (always convolutional), on ``images`` under the
    classifier's ``probs`` (early stopping: see :func:`fit_vae`)."""
    settings = replace(settings, kind="conv") if settings.kind == "auto" else settings
    torch.manual_seed(seed)
    model = ConditionalVAE(
        images.shape[1], images.shape[2], settings.latent_dim, probs.shape[1], settings.base_width
    )

    def cvae_loss(batch: Sequence[Tensor]) -> Tensor:
        x = as_float_images(batch[0])
        return model.loss(x, batch[1].float(), torch.Generator(x.device).manual_seed(seed))[0]

    images, probs, plateau = _held_out(model, images, probs, settings, seed, cvae_loss, checkpoint)
    train_cvae(
        model,
        images,
        probs,
        epochs=settings.epochs_for(len(images)),
        batch_size=settings.batch_size,
        lr=settings.learning_rate,
        seed=seed,
        progress=progress,
        checkpoint=checkpoint,
        device=device,
        stop=plateau,
    )
    stop_record(settings, len(images), plateau, record)
    return model.eval()


@torch.no_grad()
def predict_probs(
    classifier: Callable[[Tensor], object],
    images: Tensor,
    outputs: Outputs = "logits",
    batch_size: int = 512,
    device: str | torch.device | None = None,
) -> Tensor:
    """The classifier's probabilities ``[N, K]`` on ``images`` (batched, on the CPU)."""
    device = device if device is not None else model_device(classifier)
    parts = []
    for i in range(0, len(images), batch_size):
        x = as_float_images(images[i : i + batch_size]).to(device)
        out = check_rows(as_tensor_outputs(classifier(x)), len(x), "classifier", classifier)
        parts.append(as_probs(out, outputs).float().cpu())
    return torch.cat(parts)


@torch.no_grad()
def encode_decode(
    codec: object,
    images: Tensor,
    batch_size: int = 512,
    device: str | torch.device | None = None,
) -> tuple[Tensor, Tensor]:
    """Latents of ``images`` and their decodings (batched, on the CPU)."""
    if not isinstance(codec, Codec):
        raise ValueError(
            f"the codec must have encode(x) -> z and decode(z) -> x methods, got "
            f"{type(codec).__name__}"
        )
    device = device if device is not None else model_device(codec)
    latents, recon = [], []
    for i in range(0, len(images), batch_size):
        z = codec.encode(as_float_images(images[i : i + batch_size]).to(device))
        latents.append(z.cpu())
        recon.append(codec.decode(z).cpu())
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
