"""A flow with known answers: 2-D points whose class is their quadrant.

Points are uniform on ``[-0.5, 0.5]^2``; class 0: x<0,y<0; 1: x<0,y>0; 2: x>0,y<0; 3:
x>0,y>0. :func:`quadrant_flow` trains a small CE-CFM field on them (scalar class conditions,
paths from the square's own uniform source), so LeapFactual on an ``IdentityCodec`` with
:func:`quadrant_classifier` must move a point into the target quadrant: a fast check, in
about a second on a CPU, that an explainer or a change to the flow still does its job.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from leapfactual.explain import Blend, Inject, LeapFactual
from leapfactual.flow import MLPField, Solver, UniformSource, VectorField, train_flow
from leapfactual.models import IdentityCodec

QUADRANT_STARTS = torch.tensor([[-0.35, -0.2], [-0.35, 0.3], [0.15, -0.2], [0.15, 0.3]])
"""The paper's four start points (one per quadrant), explained toward quadrant 3."""


def quadrant_labels(points: Tensor) -> Tensor:
    """The true class of 2-D points ``[N, 2]``: ``2 * (x > 0) + (y > 0)``."""
    return 2 * (points[:, 0] > 0).long() + (points[:, 1] > 0).long()


def quadrant_classifier(points: Tensor) -> Tensor:
    """A black-box 'classifier': confident logits ``[N, 4]`` of the quadrant rule."""
    return 10.0 * F.one_hot(quadrant_labels(points), 4).to(points.dtype)


def quadrant_flow(points: int = 4096, epochs: int = 40, seed: int = 0) -> MLPField:
    """A field trained on ``points`` uniform points for ``epochs`` epochs (seeded): with the
    defaults over 95 % of each class's samples land in their quadrant."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(points, 2, generator=gen) - 0.5
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        field = MLPField(2, 4, width=64, depth=3, activation="silu", condition="scalar")
    conditions = field.condition.from_probs(F.one_hot(quadrant_labels(x), 4).float())
    train_flow(
        field,
        x,
        conditions,
        epochs=epochs,
        batch_size=256,
        lr=2e-3,
        lr_milestones=(int(epochs * 0.8),),
        source=UniformSource(-0.5, 0.5),
        seed=seed,
    )
    return field.eval()


def quadrant_explainer(field: VectorField, solver: Solver = Solver("rk4", 16)) -> LeapFactual:
    """LeapFactual on the quadrant rule with the paper's toy schedule: 8 blends at gamma 0.1,
    then 3 injections landing at 0.1; latents kept along the path."""
    return LeapFactual(
        quadrant_classifier,
        IdentityCodec(),
        field,
        blend=Blend(gamma=0.1, steps=8),
        inject=Inject(0.0, 0.1, steps=3),
        solver=solver,
        trajectory="latents",
    )
