"""The gradient loop the gradient-based baselines share (OptBased, LatentAttack, PixelAttack).

Each sample's loss is a function of its own row only, and the batch loss is the *sum* of the
per-sample losses, so every row's gradient (and, with an element-wise optimiser such as Adam,
its whole trajectory) is independent of the rest of the batch. A row that meets the stopping
rule is recorded as it is and leaves the loop: it is never evaluated or read again, so
optimiser momentum cannot move its result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from leapfactual.explain.explanation import Cost

Evaluate = Callable[[Tensor, Tensor], tuple[Tensor, Tensor, Tensor]]
"""``(rows, index) -> (images, probs, loss)``: images and probabilities of the variable's
``rows`` (the samples ``index`` of the batch) and one loss per row, differentiable in rows."""

Stop = Callable[[Tensor, Tensor], Tensor]
"""``(probs, index) -> done``: which rows have met the stopping rule."""

MakeOptimizer = Callable[[list[Tensor]], torch.optim.Optimizer]


@dataclass
class Descent:
    """Per-sample results: the variable, its images and probabilities where each row stopped,
    and the number of gradient steps each row took."""

    var: Tensor
    images: Tensor
    probs: Tensor
    steps: Tensor


def descend(
    start: Tensor,
    evaluate: Evaluate,
    make_optimizer: MakeOptimizer,
    max_steps: int,
    cost: Cost,
    method: str,
    stop: Stop | None = None,
    project: Callable[[Tensor], None] | None = None,
) -> Descent:
    """Minimise each row's loss from ``start`` for at most ``max_steps`` steps.

    Row ``i`` stops at the first evaluation where ``stop`` says so (before any further step),
    or after ``max_steps`` steps. ``project`` is applied in place to the variable after every
    step (e.g. clamping pixels). Gradients are taken with ``torch.autograd.grad`` on the
    variable only, so no model parameter's ``.grad`` or ``requires_grad`` is touched; the
    loop runs with gradients enabled even when the caller is under ``torch.no_grad``.
    """
    n = start.shape[0]
    with torch.inference_mode(False), torch.enable_grad():
        var = start.detach().clone().requires_grad_(True)
        optimizer = make_optimizer([var])
        steps = torch.zeros(n, dtype=torch.long, device=start.device)
        active = torch.arange(n, device=start.device)
        result: Descent | None = None
        for step in range(max_steps + 1):
            rows = var[active]
            images, probs, loss = evaluate(rows, active)
            done = (
                stop(probs.detach(), active)
                if stop is not None
                else torch.zeros(len(active), dtype=torch.bool, device=start.device)
            )
            if step == max_steps:
                done = torch.ones_like(done)
            if result is None:
                result = Descent(
                    var=start.detach().clone(),
                    images=images.new_empty((n, *images.shape[1:])),
                    probs=probs.new_empty((n, *probs.shape[1:])),
                    steps=steps,
                )
            finished = active[done]
            result.var[finished] = rows[done].detach()
            result.images[finished] = images[done].detach()
            result.probs[finished] = probs[done].detach()
            result.steps[finished] = step
            keep = ~done
            if not keep.any():
                break
            if not probs.requires_grad:
                raise ValueError(
                    f"{method} needs gradients of the classifier (and of the decoder, if any), "
                    "but its outputs carry none: use a differentiable torch model, or a "
                    "gradient-free explainer (LeapFactual, CGMBased, LatentReflection)"
                )
            (grad,) = torch.autograd.grad(loss[keep].sum(), var)
            var.grad = grad
            optimizer.step()
            var.grad = None
            if project is not None:
                with torch.no_grad():
                    project(var)
            cost.gradient_steps += int(keep.sum())
            active = active[keep]
    assert result is not None
    return result


def check_positive(**values: float | int | None) -> None:
    """Raise a ``ValueError`` naming every argument that is not a positive number."""
    bad = {k: v for k, v in values.items() if v is not None and not v > 0}
    if bad:
        raise ValueError(f"these settings must be positive: {bad}")


def check_tau(tau: float | None) -> None:
    if tau is not None and not 0.0 < tau < 1.0:
        raise ValueError(f"tau is a probability threshold in (0, 1), got {tau}")


def reached(target: Tensor, tau: float) -> Stop:
    """Stopping rule: the classifier gives the target more than ``tau``."""

    def stop(probs: Tensor, index: Tensor) -> Tensor:
        return probs.gather(1, target[index].unsqueeze(1)).squeeze(1) > tau

    return stop


def within(target: Tensor, tau: float, tolerance: float) -> Stop:
    """Stopping rule of a regressor: ``|f(x') - target| <= 2 (1 - tau) * tolerance`` (the
    tolerance itself at ``tau = 0.5``; closer as ``tau`` rises, as a probability threshold
    does for a classifier). The regressor's value is ``probs[:, 0]``."""
    band = 2.0 * (1.0 - tau) * tolerance

    def stop(values: Tensor, index: Tensor) -> Tensor:
        return (values[:, 0] - target[index]).abs() <= band

    return stop


def target_met(target: Tensor, tau: float, tolerance: float | None) -> Stop:
    """:func:`reached` for a classifier, :func:`within` for a regressor (a ``tolerance``)."""
    return reached(target, tau) if tolerance is None else within(target, tau, tolerance)


def squared_error(values: Tensor, target: Tensor) -> Tensor:
    """Per-sample ``(f(x') - target)^2`` of a regressor's values ``[B, 1]``."""
    return (values[:, 0] - target.to(values.dtype)).pow(2)
