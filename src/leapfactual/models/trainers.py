"""Trainers of the reference models on the shared loop, and a batched accuracy.

Each ``train_*`` takes the model and its data positionally and everything else by keyword;
the training length, batch size, rate, seed (and a classifier's shifts) have no defaults here:
the settings (:mod:`leapfactual.pipeline.settings`) hold them, and the ``fit_*`` builders of
:mod:`leapfactual.pipeline` pass them. Images are float ``[N, C, H, W]`` in [0, 1], or uint8
(divided by 255 one batch at a time, so a large uint8 set never exists as floats).
``lr_milestones`` are fixed epoch numbers, so a run can be extended from its checkpoint.
``device`` moves the model there before training (default: train where the model is).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from leapfactual.models.classifier import CNNClassifier
from leapfactual.models.protocols import Classifier
from leapfactual.models.vae import ConditionalVAE, ConvVAE
from leapfactual.training import fit

PathLike = str | os.PathLike[str]


def as_float_images(x: Tensor) -> Tensor:
    """uint8 images -> float in [0, 1]; float images unchanged."""
    return x.float().div_(255) if x.dtype == torch.uint8 else x


def random_shift(x: Tensor, max_shift: int, generator: torch.Generator) -> Tensor:
    """Shift each image by its own random whole-pixel offset in ``[-max_shift, max_shift]``
    along both axes, filling with zeros (the background)."""
    if max_shift <= 0:
        return x
    b, _, h, w = x.shape
    offsets = torch.randint(0, 2 * max_shift + 1, (2, b), generator=generator).to(x.device)
    padded = F.pad(x, (max_shift,) * 4)
    rows = offsets[0, :, None] + torch.arange(h, device=x.device)  # [B, H]
    cols = offsets[1, :, None] + torch.arange(w, device=x.device)  # [B, W]
    batch = torch.arange(b, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]  # [B, H, W, C]
    return out.permute(0, 3, 1, 2).contiguous()


def train_vae(
    model: ConvVAE,
    images: Tensor,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    progress: bool = False,
    checkpoint: PathLike | None = None,
    lr_milestones: tuple[int, ...] = (),
    device: str | torch.device | None = None,
    max_grad_norm: float | None = None,
    agreement: Callable[[Tensor, Tensor], Tensor] | None = None,
    after_epoch: Callable[[int], None] | None = None,
    stop: Callable[[int], bool] | None = None,
) -> list[float]:
    """Train a :class:`ConvVAE` (MSE + beta KL, plus ``agreement`` when given: see
    :meth:`VAE.loss`); return the mean total loss of every epoch (``max_grad_norm``,
    ``after_epoch``, ``stop``: see :func:`leapfactual.training.fit`)."""

    def step(batch: Sequence[Tensor], generator: torch.Generator) -> Tensor:
        return model.loss(as_float_images(batch[0]), generator, agreement)[0]

    return fit(
        model,
        [images],
        step,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        lr_milestones=lr_milestones,
        seed=seed,
        progress=progress,
        desc="vae",
        checkpoint=checkpoint,
        device=device,
        settings={"loss": "vae"},
        max_grad_norm=max_grad_norm,
        after_epoch=after_epoch,
        stop=stop,
    )


def train_cvae(
    model: ConditionalVAE,
    images: Tensor,
    conditions: Tensor,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    progress: bool = False,
    checkpoint: PathLike | None = None,
    lr_milestones: tuple[int, ...] = (),
    device: str | torch.device | None = None,
    stop: Callable[[int], bool] | None = None,
) -> list[float]:
    """Train a :class:`ConditionalVAE` on ``images`` under ``conditions`` (``[N, num_classes]``
    class probabilities, e.g. the classifier's softmax); return per-epoch mean losses."""
    if conditions.dim() != 2 or conditions.shape[1] != model.num_classes:
        raise ValueError(
            f"conditions must be [N, {model.num_classes}] class probabilities; got shape "
            f"{tuple(conditions.shape)}. Use softmax(classifier(images)) or a one-hot."
        )

    def step(batch: Sequence[Tensor], generator: torch.Generator) -> Tensor:
        return model.loss(as_float_images(batch[0]), batch[1].float(), generator)[0]

    return fit(
        model,
        [images, conditions],
        step,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        lr_milestones=lr_milestones,
        seed=seed,
        progress=progress,
        desc="cvae",
        checkpoint=checkpoint,
        device=device,
        settings={"loss": "cvae"},
        stop=stop,
    )


def train_classifier(
    model: CNNClassifier,
    images: Tensor,
    labels: Tensor,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    augment: int,
    progress: bool = False,
    checkpoint: PathLike | None = None,
    lr_milestones: tuple[int, ...] = (),
    device: str | torch.device | None = None,
    stop: Callable[[int], bool] | None = None,
) -> list[float]:
    """Train a classifier with cross-entropy; return the mean loss of every epoch.

    ``augment`` > 0 shifts every training image by a random whole-pixel offset of at most
    ``augment`` pixels per axis, drawn from the seeded generator; 0 trains on the images as
    given.
    ``stop``: see :func:`leapfactual.training.fit`.
    """
    if labels.dim() != 1 or labels.dtype not in (torch.int64, torch.int32, torch.uint8):
        raise ValueError(
            f"labels must be integer class indices [N]; got shape {tuple(labels.shape)} and "
            f"dtype {labels.dtype}"
        )
    if augment < 0:
        raise ValueError(f"augment is a maximum shift in pixels (>= 0); got {augment}")

    def step(batch: Sequence[Tensor], generator: torch.Generator) -> Tensor:
        x = random_shift(as_float_images(batch[0]), augment, generator)
        return F.cross_entropy(model(x), batch[1].long())

    return fit(
        model,
        [images, labels],
        step,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        lr_milestones=lr_milestones,
        seed=seed,
        progress=progress,
        desc="classifier",
        checkpoint=checkpoint,
        device=device,
        settings={"loss": "cross_entropy", "augment": augment},
        stop=stop,
    )


def train_regressor(
    model: CNNClassifier,
    images: Tensor,
    values: Tensor,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    augment: int,
    progress: bool = False,
    checkpoint: PathLike | None = None,
    device: str | torch.device | None = None,
    stop: Callable[[int], bool] | None = None,
) -> list[float]:
    """Train a one-output network (``num_classes=1``) to regress ``values`` ``[N]`` with
    squared error on the standardised values, then fold the mean and std into its last
    linear layer, so that it returns values in their own units. Returns the epoch losses.
    """
    last = model.head[-1]
    if not isinstance(last, nn.Linear) or last.out_features != 1:
        raise ValueError("a regressor is a CNNClassifier with num_classes=1")
    if values.dim() != 1 or not values.is_floating_point() or len(values) != len(images):
        raise ValueError(
            f"values must be one float per image [N], got shape {tuple(values.shape)} and "
            f"dtype {values.dtype} for {len(images)} images"
        )
    mean, std = float(values.double().mean()), float(values.double().std())
    if not std > 0:
        raise ValueError("values must not all be equal: a regressor needs them to vary")
    scaled = ((values.double() - mean) / std).float()

    def step(batch: Sequence[Tensor], generator: torch.Generator) -> Tensor:
        x = random_shift(as_float_images(batch[0]), augment, generator)
        return F.mse_loss(model(x)[:, 0], batch[1])

    losses = fit(
        model,
        [images, scaled],
        step,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        progress=progress,
        desc="regressor",
        checkpoint=checkpoint,
        device=device,
        settings={"loss": "mse", "augment": augment},
        stop=stop,
    )
    with torch.no_grad():
        last.weight.mul_(std)
        last.bias.mul_(std).add_(mean)
    return losses


@torch.no_grad()
def accuracy(
    classifier: Classifier, images: Tensor, labels: Tensor, batch_size: int = 512
) -> float:
    """Fraction of ``images`` whose argmax output equals ``labels`` (batched, no gradients).

    An ``nn.Module`` is evaluated in eval mode on its own device and put back in its mode.
    """
    if images.shape[0] != labels.shape[0] or images.shape[0] == 0:
        raise ValueError(
            f"need as many labels as images (and at least one); got {images.shape[0]} images "
            f"and {labels.shape[0]} labels"
        )
    device = None
    was_training = False
    if isinstance(classifier, nn.Module):
        was_training = classifier.training
        classifier.eval()
        device = next(iter(classifier.parameters()), torch.empty(0)).device
    correct = 0
    try:
        for start in range(0, images.shape[0], batch_size):
            x = as_float_images(images[start : start + batch_size])
            pred = classifier(x if device is None else x.to(device)).argmax(dim=1)
            correct += int((pred.cpu() == labels[start : start + batch_size].cpu()).sum())
    finally:
        if isinstance(classifier, nn.Module):
            classifier.train(was_training)
    return correct / images.shape[0]
