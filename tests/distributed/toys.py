"""Small deterministic pieces shared by the distributed tests and their torchrun worker."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import torch
from torch import Tensor, nn
from torch.optim.optimizer import register_optimizer_step_pre_hook

from leapfactual.explain import Blend, Inject, LeapFactual
from leapfactual.flow import MLPField, Solver
from leapfactual.models import IdentityCodec
from leapfactual.training import StepFn

SETTINGS = dict(batch_size=16, lr=1e-2, weight_decay=1e-3, lr_milestones=(2,), seed=4)
TAIL = 81
"""Samples whose last minibatch of 16 holds one: cut in 4 parts, it leaves rank 1 of 2 none."""


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.config = {"width": 8}
        self.net = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))


def tiny(init_seed: int = 0) -> Tiny:
    torch.manual_seed(init_seed)
    return Tiny()


def regression_data(n: int = 91) -> list[Tensor]:
    """91 samples: the last minibatch of 16 has 11, cut 6 / 5 between two chunks."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, generator=gen)
    return [x, x.sum(1, keepdim=True).sin()]


def noisy_step(model: Tiny, noise: float = 0.1) -> StepFn:
    def step(batch: Sequence[Tensor], generator: torch.Generator) -> Tensor:
        x = batch[0] + noise * torch.randn(batch[0].shape, generator=generator)
        return (model.net(x) - batch[1]).pow(2).mean()

    return step


R = TypeVar("R")


def first_gradient(train: Callable[[], R]) -> tuple[R, Tensor]:
    """``train()``'s result and the flat gradient of the first optimizer step it takes."""
    grads: list[Tensor] = []

    def hook(optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if not grads:
            params = [p for group in optimizer.param_groups for p in group["params"]]
            grads.append(torch.cat([p.grad.reshape(-1) for p in params]))

    handle = register_optimizer_step_pre_hook(hook)
    try:
        result = train()
    finally:
        handle.remove()
    return result, grads[0]


def quadrant(x: Tensor) -> Tensor:
    """Rule classifier of 2-D points: logits of the four quadrants."""
    centres = torch.tensor([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]])
    return 10 * x @ centres.T


def toy_explainer() -> LeapFactual:
    torch.manual_seed(0)
    field = MLPField(2, 4, width=16, depth=2, condition="onehot")
    return LeapFactual(
        quadrant,
        IdentityCodec(),
        field,
        Blend(0.3, 3),
        Inject(0.0, 0.3, 1),
        Solver("rk4", 2),
        batch_size=4,
    )


def toy_points(n: int = 50) -> tuple[Tensor, Tensor]:
    x = torch.rand(n, 2, generator=torch.Generator().manual_seed(5)) - 0.5
    return x, (quadrant(x).argmax(1) + 1) % 4
