"""An early look at a VAE in training: stop a fit whose reconstructions have collapsed.

A codec that returns (nearly) the same image whatever it is given makes every CE the same
smear, and it usually shows long before training ends. :func:`collapse_probe` is called by
the training loop after each epoch and looks once, at the first epoch that ends after a third
of the training (:data:`PROBE_STEPS` optimiser steps at least), at the reconstructions of a
fixed sample of the training images. Why a third, with the measurements: docs/design-notes.md,
"Measured reasons behind short docstrings".
"""

from __future__ import annotations

import math
from collections.abc import Callable

from torch import Tensor, nn

from leapfactual.metrics import codec_quality
from leapfactual.pipeline.settings import VAESettings

PROBE_STEPS = 150
"""The probe looks at the first epoch that ends after this many optimiser steps."""
PROBE_IMAGES = 256
"""Training images (the first ones) whose reconstructions the probe checks."""
MIN_VARIANCE_KEPT = 0.1
"""Below this share of the sample's pixel variance kept by the reconstructions, the probe
stops the fit: they are (nearly) the mean image, or worse."""
MIN_KAPPA = 0.1
"""Below this chance-corrected agreement (Cohen's kappa) of the watching classifier between
images and reconstructions, the probe stops the fit: it answers them no better than chance."""


def probe_epoch(settings: VAESettings, n: int) -> int | None:
    """The epoch after which the probe looks, for ``settings`` (epochs already raised to their
    minimum steps) on ``n`` images: the first that ends after a third of the training's
    optimiser steps, and after :data:`PROBE_STEPS` at least. None when training ends by then
    (the run's verdict judges the finished codec; a codec looked at after a handful of steps
    is always near the mean image)."""
    per_epoch = max(1, math.ceil(n / settings.batch_size))
    steps = max(PROBE_STEPS, settings.epochs * per_epoch // 3)
    when = math.ceil(steps / per_epoch)
    return when if when < settings.epochs else None


def collapse_probe(
    model: nn.Module,
    images: Tensor,
    settings: VAESettings,
    watch: Callable[[Tensor], object] | None = None,
    outputs: str = "logits",
) -> Callable[[int], None]:
    """The training loop's ``after_epoch`` for ``model``: at :func:`probe_epoch` it raises a
    ``ValueError`` with the fix when the reconstructions of the first :data:`PROBE_IMAGES`
    ``images`` keep less than :data:`MIN_VARIANCE_KEPT` of their variance, or when ``watch``
    (a classifier; not a regressor) agrees with itself on them by less than
    :data:`MIN_KAPPA` beyond chance. It looks at no epoch when :func:`probe_epoch` is None."""
    when = probe_epoch(settings, len(images))
    sample = images[:PROBE_IMAGES]
    judge = watch if outputs != "value" else None

    def after_epoch(done: int) -> None:
        if done != when:
            return
        mode = model.training
        try:
            kind = outputs if judge is not None else "logits"  # no judge: outputs unused
            quality = codec_quality(model, sample, judge, outputs=kind)
        finally:
            model.train(mode)
        kept = quality["variance_kept"]
        fix = codec_fix(settings, images.shape[1], images.shape[2])
        if kept < MIN_VARIANCE_KEPT:
            raise ValueError(
                f"the VAE collapsed: after {done} of {settings.epochs} epochs its "
                f"reconstructions keep {max(kept, 0):.0%} of the images' variation (they are close "
                f"to the mean image), so every CE would look the same; {fix} (or "
                "--set vae.probe=false to train on regardless)"
            )
        if judge is not None:
            agreement, chance = quality["agreement"], quality["chance_agreement"]
            kappa = (agreement - chance) / (1 - chance) if chance < 1 else 0.0
            if kappa < MIN_KAPPA:
                raise ValueError(
                    f"the VAE collapsed: after {done} of {settings.epochs} epochs the "
                    f"classifier agrees with itself on {agreement:.0%} of its reconstructions, "
                    f"no better than chance ({chance:.0%}); {fix} (or --set vae.probe=false "
                    "to train on regardless)"
                )

    return after_epoch


def codec_fix(settings: VAESettings, channels: int, size: int) -> str:
    """What to change when the codec loses the images."""
    if settings.kind == "conv" and (channels == 3 or size > 28):
        return (
            f"the conv VAE is made for small grey images: use the residual VAE for "
            f"{channels} x {size} x {size} images (--set vae.kind=resnet)"
        )
    return (
        "train it longer (--set vae.epochs=...), with a smaller KL weight (--set vae.beta=...) "
        "or a larger latent (--latent-dim), or on more images"
    )
