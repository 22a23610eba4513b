"""LeapFactual: information blending (the CE), then information injection (the reliable CE)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from leapfactual.explain.base import Explainer, Outputs
from leapfactual.explain.explanation import Cost
from leapfactual.flow.fields import VectorField
from leapfactual.flow.leap import leap
from leapfactual.flow.solvers import Solver
from leapfactual.models.protocols import Classifier, Codec

Trajectory = Literal["none", "latents", "images"]


@dataclass(frozen=True)
class Blend:
    """Blending: ``steps`` leaps with equal lift and land ``gamma``.

    ``tol``: stop a sample early once its latent moves less than ``tol`` (root mean square
    per dimension) in one leap; None (the paper's behaviour) always takes every step.
    """

    gamma: float = 0.1
    steps: int = 15
    tol: float | None = None

    def __post_init__(self) -> None:
        tol_ok = self.tol is None or (math.isfinite(self.tol) and self.tol > 0)
        if not (math.isfinite(self.gamma) and self.gamma > 0) or self.steps < 0 or not tol_ok:
            raise ValueError(
                f"Blend needs a finite gamma > 0, steps >= 0 and a finite tol > 0 or None; "
                f"got {self}"
            )


@dataclass(frozen=True)
class Inject:
    """Injection: ``steps`` leaps that land harder than they lift (``gamma_land > gamma_lift``)."""

    gamma_lift: float = 0.0
    gamma_land: float = 0.1
    steps: int = 5

    def __post_init__(self) -> None:
        lift_ok = math.isfinite(self.gamma_lift) and self.gamma_lift >= 0
        land_ok = math.isfinite(self.gamma_land) and self.gamma_land > 0
        if not (lift_ok and land_ok) or self.steps < 1:
            raise ValueError(
                f"Inject needs finite gamma_lift >= 0 and gamma_land > 0, steps >= 1; got {self}"
            )


class LeapFactual(Explainer):
    """Counterfactuals by leaps of a CE-CFM flow in a generative model's latent space.

    Only the classifier's outputs are used (no gradients): it may be any callable. After every
    leap the decoded latent is classified again and its condition re-encoded with the flow's
    own :class:`~leapfactual.flow.conditions.ConditionSpec`.

    Args:
        classifier: callable images -> outputs ``[B, K]`` (the model the flow was trained on).
        codec: ``encode`` / ``decode`` of the generative model whose latents the flow models.
        field: the trained vector field.
        blend: blending schedule (paper MNIST setting by default).
        inject: injection schedule for the reliable CE, or None to skip it.
        solver: ODE solver for every lift and land.
        trajectory: keep ``"latents"`` (and probabilities) or also ``"images"`` per leap.
        outputs, batch_size, progress, seed: see :class:`Explainer` (LeapFactual itself draws
            nothing at random; ``seed`` matters only for stochastic models).
    """

    name = "leapfactual"

    def __init__(
        self,
        classifier: Classifier,
        codec: Codec,
        field: VectorField,
        blend: Blend = Blend(),
        inject: Inject | None = Inject(),
        solver: Solver = Solver("rk4", 4),
        trajectory: Trajectory = "none",
        outputs: Outputs = "logits",
        batch_size: int = 256,
        progress: bool = False,
        seed: int | None = None,
    ) -> None:
        super().__init__(classifier, codec, outputs, batch_size, progress, seed)
        if not isinstance(field, VectorField):
            raise ValueError(f"field must be a leapfactual VectorField, got {type(field).__name__}")
        if trajectory not in ("none", "latents", "images"):
            raise ValueError(
                f"trajectory must be 'none', 'latents' or 'images', got {trajectory!r}"
            )
        self.field = field
        self.blend = blend
        self.inject = inject
        self.solver = solver
        self.trajectory = trajectory

    def config(self) -> dict[str, Any]:
        return {
            **super().config(),
            "blend": asdict(self.blend),
            "inject": asdict(self.inject) if self.inject else None,
            "solver": asdict(self.solver),
            "condition": self.field.condition.to_dict(),
            "field": {"type": type(self.field).__name__, **self.field.config},
        }

    @torch.no_grad()
    def explain_batch(
        self, x: Tensor, target: Tensor, probs: Tensor, cost: Cost
    ) -> dict[str, Tensor]:
        spec = self.field.condition
        z = self.encode(x, cost)
        self.field.check_latents(z)
        images = self.decode(z, cost)
        p = self.classify(images, cost)
        cond_target = spec.from_labels(target, z.dtype)
        state = _State(z, images, p, torch.zeros(len(z), dtype=torch.long, device=z.device))
        trail = _Trail(self.trajectory, state)
        hook = self.field.register_forward_pre_hook(
            lambda _m, args: setattr(cost, "field", cost.field + args[1].shape[0])
        )
        try:
            self._run(
                state,
                cond_target,
                self.blend.gamma,
                self.blend.gamma,
                self.blend.steps,
                self.blend.tol,
                trail,
                cost,
            )
            out = {
                "z": z,
                "z_cf": state.z.clone(),
                "x_cf": state.images.clone(),
                "probs_cf": state.probs.clone(),
            }
            if self.inject is not None:
                self._run(
                    state,
                    cond_target,
                    self.inject.gamma_lift,
                    self.inject.gamma_land,
                    self.inject.steps,
                    None,
                    trail,
                    cost,
                )
                out.update(z_reliable=state.z, x_reliable=state.images, probs_reliable=state.probs)
        finally:
            hook.remove()
        out["steps"] = state.steps
        out.update(trail.tensors())
        return out

    def _run(
        self,
        state: _State,
        cond_target: Tensor,
        gamma_lift: float,
        gamma_land: float,
        steps: int,
        tol: float | None,
        trail: _Trail,
        cost: Cost,
    ) -> None:
        spec = self.field.condition
        active = torch.arange(len(state.z), device=state.z.device)
        for _ in range(steps):
            if len(active):
                z_old = state.z[active]
                cond = spec.from_probs(state.probs[active])
                z_new = leap(
                    self.field,
                    z_old,
                    cond,
                    cond_target[active],
                    gamma_lift,
                    gamma_land,
                    self.solver,
                )
                images = self.decode(z_new, cost)
                state.update(active, z_new, images, self.classify(images, cost))
                if tol is not None:
                    moved = (z_new - z_old).pow(2).mean(dim=1).sqrt()
                    active = active[moved >= tol]
            trail.record(state)


@dataclass
class _State:
    """The current latent, image, probabilities and leap count of every sample in a batch."""

    z: Tensor
    images: Tensor
    probs: Tensor
    steps: Tensor

    def update(self, idx: Tensor, z: Tensor, images: Tensor, probs: Tensor) -> None:
        self.z, self.images, self.probs = self.z.clone(), self.images.clone(), self.probs.clone()
        self.z[idx], self.images[idx], self.probs[idx] = z, images, probs
        self.steps[idx] += 1


class _Trail:
    """Snapshots of the state after every leap, when a trajectory is asked for."""

    def __init__(self, mode: Trajectory, state: _State) -> None:
        self.mode = mode
        self.z: list[Tensor] = []
        self.probs: list[Tensor] = []
        self.images: list[Tensor] = []
        self.record(state)

    def record(self, state: _State) -> None:
        if self.mode == "none":
            return
        self.z.append(state.z)
        self.probs.append(state.probs)
        if self.mode == "images":
            self.images.append(state.images)

    def tensors(self) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        if self.z:
            out["trajectory"] = torch.stack(self.z, dim=1)
            out["trajectory_probs"] = torch.stack(self.probs, dim=1)
        if self.images:
            out["trajectory_images"] = torch.stack(self.images, dim=1)
        return out


__all__ = ["Blend", "Inject", "LeapFactual"]
