"""Does the flow generate the classes it is asked for? Noise landed under each class,
decoded and classified.

LeapFactual moves a latent by the difference between the flow's velocities under two
conditions, so a flow whose samples do not follow their condition cannot move an input to
its target either (``leapfactual own-model`` measures both on colour shapes). ``fit``
records this number for every classifier run and warns when it is low.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from leapfactual.flow import GaussianSource, Solver, Source, VectorField, integrate
from leapfactual.metrics._checks import device_of
from leapfactual.metrics.reconstruction import _argmax

SAMPLE_SOLVER = Solver("rk4", 20)
"""Fixed-step solver of the samples: accurate enough that the number measures the flow."""


@torch.no_grad()
def conditional_sample_accuracy(
    field: VectorField,
    codec: Any,
    classifier: Callable[[Tensor], Any],
    num_classes: int,
    per_class: int = 64,
    seed: int = 0,
    *,
    source: Source = GaussianSource(),
    solver: Solver = SAMPLE_SOLVER,
    batch_size: int = 256,
) -> float:
    """Fraction of flow samples the classifier puts in the class they were generated for.

    ``per_class`` seeded draws from ``source`` per class are integrated from t = 0 to 1 under
    that class's condition (the field's own encoding of a label), decoded with ``codec`` and
    classified (argmax of ``classifier``'s ``[B, K]`` outputs). Modules run in eval mode on
    their own devices and are put back in their mode.
    """
    if field.condition.kind == "value":
        raise ValueError("a regressor's flow has no classes to sample; this needs a classifier")
    for name, value in (
        ("num_classes", num_classes),
        ("per_class", per_class),
        ("batch_size", batch_size),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    models = [m for m in (field, codec, classifier) if isinstance(m, nn.Module)]
    modes = [m.training for m in models]
    for model in models:
        model.eval()
    field_device = device_of(field) or torch.device("cpu")
    classifier_device = device_of(classifier)
    classes = torch.arange(num_classes).repeat_interleave(per_class)
    generator = torch.Generator().manual_seed(seed)
    like = torch.empty(0, device=field_device)
    noise = source.sample(len(classes), field.latent_dim, generator, like)
    hits = 0
    try:
        for start in range(0, len(classes), batch_size):
            wanted = classes[start : start + batch_size].to(field_device)
            cond = field.condition.from_targets(wanted)

            def velocity(t: Tensor, z: Tensor, c: Tensor = cond) -> Tensor:
                return field(t, z, c)

            z = integrate(velocity, noise[start : start + batch_size], 0.0, 1.0, solver)
            images = codec.decode(z.to(device_of(codec) or z.device))
            if not torch.isfinite(images).all():
                raise ValueError("the codec decoded the flow's samples to NaN or inf values")
            out = _argmax(classifier(images.to(classifier_device or images.device)))
            hits += int((out.to(wanted.device) == wanted).sum())
    finally:
        for model, mode in zip(models, modes, strict=True):
            model.train(mode)
    return hits / len(classes)


__all__ = ["conditional_sample_accuracy"]
