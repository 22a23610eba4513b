"""LeapFactual: information blending (the CE), then information injection (the reliable CE);
several diverse CEs per input on request (:class:`Diversity`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from leapfactual.explain.base import Explainer, Outputs, as_probs, nonfinite_error
from leapfactual.explain.explanation import Cost
from leapfactual.explain.options import Blend, Diversity, Inject
from leapfactual.flow import Solver, VectorField, leap
from leapfactual.models import Classifier, Codec

Trajectory = Literal["none", "latents", "images"]


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
        diversity: how ``explain(..., diverse=K)`` makes K different CEs per input.
        outputs, batch_size, progress, seed, tolerance: see :class:`Explainer` (LeapFactual
            draws nothing at random but the diverse copies' noise, seeded by ``seed`` or 0;
            ``seed`` otherwise matters only for stochastic models). A regressor
            (``outputs="value"``) needs a flow fitted on its values (``value`` condition).
    """

    name = "leapfactual"
    regression = True
    unrecorded = (*Explainer.unrecorded, "trajectory")

    def __init__(
        self,
        classifier: Classifier,
        codec: Codec,
        field: VectorField,
        blend: Blend = Blend(),
        inject: Inject | None = Inject(),
        solver: Solver = Solver(),
        trajectory: Trajectory = "none",
        diversity: Diversity = Diversity(),
        outputs: Outputs = "logits",
        batch_size: int = 256,
        progress: bool = False,
        seed: int | None = None,
        tolerance: float | None = None,
    ) -> None:
        super().__init__(classifier, codec, outputs, batch_size, progress, seed, tolerance)
        if not isinstance(field, VectorField):
            raise ValueError(f"field must be a leapfactual VectorField, got {type(field).__name__}")
        if (field.condition.kind == "value") != (outputs == "value"):
            raise ValueError(
                f"the flow's condition is '{field.condition.kind}' but the model's outputs are "
                f"{outputs!r}: a regressor (outputs='value') needs a flow fitted on its values, "
                "a classifier one fitted on its class outputs"
            )
        if trajectory not in ("none", "latents", "images"):
            raise ValueError(
                f"trajectory must be 'none', 'latents' or 'images', got {trajectory!r}"
            )
        if (blend.settle is not None or blend.boost != 1.0) and outputs == "value":
            raise ValueError(
                "Blend.settle and Blend.boost follow the target class's probability, which a "
                "regressor (outputs='value') has not; use Blend.tol or neither"
            )
        self.field = field
        self.blend = blend
        self.inject = inject
        self.solver = solver
        self.trajectory = trajectory
        self.diversity = diversity

    def config(self) -> dict[str, Any]:
        """:meth:`Explainer.config` plus the flow's condition encoding and architecture."""
        return {
            **super().config(),
            "condition": self.field.condition.to_dict(),
            "field": {"type": type(self.field).__name__, **self.field.config},
        }

    @torch.no_grad()
    def explain_batch(
        self, x: Tensor, target: Tensor, probs: Tensor, cost: Cost
    ) -> dict[str, Tensor]:
        return self._explain(*self._start(x, cost), target, cost)

    @torch.no_grad()
    def explain_copies(
        self, x: Tensor, target: Tensor, probs: Tensor, cost: Cost, copies: int
    ) -> dict[str, Tensor]:
        z, images, p = (t.repeat_interleave(copies, 0) for t in self._start(x, cost))
        noise = self._noise(x, copies, z)
        target = target.repeat_interleave(copies, 0)
        return self._explain(z, images, p, target, cost, noise, copies)

    def _start(self, x: Tensor, cost: Cost) -> tuple[Tensor, Tensor, Tensor]:
        """The latents of ``x``, their decodings and the classifier's outputs on those."""
        z = self.encode(x, cost)
        self.field.check_latents(z)
        images = self.decode(z, cost)
        return z, images, self.classify(images, cost)

    def _noise(self, x: Tensor, copies: int, z: Tensor) -> Tensor:
        """Seeded noise ``[B * copies, steps, D]`` of the diverse copies (zero for copy 0),
        each row from its own generator (explainer seed, input values, copy)."""
        steps, dim = self.blend.steps, z.shape[1]
        out = torch.zeros(len(z), steps, dim, dtype=z.dtype)
        for i in range(len(x)):
            digest = hashlib.sha256(x[i].detach().cpu().numpy().tobytes()).digest()
            for k in range(1, copies):
                key = hashlib.sha256(f"{self.seed or 0}:{k}:".encode() + digest).digest()
                gen = torch.Generator().manual_seed(int.from_bytes(key[:8], "little"))
                out[i * copies + k] = torch.randn(steps, dim, generator=gen, dtype=z.dtype)
        return (out * self.diversity.spread * self.blend.gamma).to(z.device)

    def _explain(
        self,
        z: Tensor,
        images: Tensor,
        p: Tensor,
        target: Tensor,
        cost: Cost,
        noise: Tensor | None = None,
        copies: int = 1,
    ) -> dict[str, Tensor]:
        spec = self.field.condition
        cond_target = spec.from_targets(target, z.dtype)
        state = _State(z, images, p, torch.zeros(len(z), dtype=torch.long, device=z.device))
        trail = _Trail(self.trajectory, state)
        hook = self.field.register_forward_pre_hook(
            lambda _m, args: setattr(cost, "field", cost.field + args[1].shape[0])
        )
        watch = _Watch(len(z), z.device, self) if self.nonfinite == "error" else None
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
                noise,
                copies,
                settle=self.blend.settle,
                boost=self.blend.boost,
                target=target,
                watch=watch,
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
                    watch=watch,
                )
                out.update(z_reliable=state.z, x_reliable=state.images, probs_reliable=state.probs)
        except Exception:
            if watch is not None:
                watch.check()  # a non-finite output that led to this error is named first
            raise
        finally:
            hook.remove()
        if watch is not None:
            watch.check()
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
        noise: Tensor | None = None,
        copies: int = 1,
        settle: float | None = None,
        boost: float = 1.0,
        target: Tensor | None = None,
        watch: _Watch | None = None,
    ) -> None:
        """``steps`` leaps of the samples still going; with ``tol`` or ``settle`` (and the
        classes ``target``) a sample stops once that rule of :class:`Blend` holds, and with
        ``boost`` one not yet in its target class leaps that much farther. With ``watch`` the
        decoder's and classifier's outputs are checked finite there, not in each call."""
        lands_only = gamma_lift == 0 and tol is None and settle is None and noise is None
        if lands_only and trail.mode == "none":
            self._lands(state, cond_target, gamma_land, steps, cost, watch)
            return
        spec = self.field.condition
        active = torch.arange(len(state.z), device=state.z.device)
        origin = state.z.clone()
        for step in range(steps):
            if len(active):
                z_old = state.z[active]
                cond = spec.from_probs(state.probs[active])
                goal = cond_target[active]
                if noise is None:
                    far = None
                    if boost != 1.0 and target is not None:
                        far = state.probs[active].argmax(dim=1) != target[active]
                    z_new = self._leaps(z_old, cond, goal, gamma_lift, gamma_land, far, boost)
                else:
                    lifted = leap(self.field, z_old, cond, goal, gamma_lift, 0.0, self.solver)
                    lifted = lifted + noise[active, step]
                    z_new = leap(self.field, lifted, goal, goal, 0.0, gamma_land, self.solver)
                    if self.diversity.mechanism == "repel":
                        z_new = self._repel(state.z, origin, active, z_new, copies)
                images = self.decode(z_new, cost, check=watch is None)
                outputs = self.classifier_outputs(images, cost, check=watch is None)
                if watch is not None:
                    watch.see(active, images, outputs)
                p_old, probs = state.probs[active], as_probs(outputs, self.outputs)
                state.update(active, z_new, images, probs)
                going = torch.ones(len(active), dtype=torch.bool, device=active.device)
                if tol is not None:
                    going &= (z_new - z_old).pow(2).mean(dim=1).sqrt() >= tol
                if settle is not None and target is not None:
                    goal_class = target[active][:, None]
                    rise = probs.gather(1, goal_class) - p_old.gather(1, goal_class)
                    crossed = probs.argmax(dim=1, keepdim=True) == goal_class
                    going &= ~(crossed & (rise < settle)).squeeze(1)
                active = active[going]
            trail.record(state)

    def _lands(
        self,
        state: _State,
        cond_target: Tensor,
        gamma_land: float,
        steps: int,
        cost: Cost,
        watch: _Watch | None,
    ) -> None:
        """``steps`` land-only leaps of every sample, decoded and classified once, after the
        last: a land uses no current condition, so without a trajectory nothing between the
        leaps needs the images (the same CEs as decoding after each, 2 (steps - 1) fewer model
        passes)."""
        if steps == 0:
            return
        z = state.z
        for _ in range(steps):
            z = leap(self.field, z, cond_target, cond_target, 0.0, gamma_land, self.solver)
        images = self.decode(z, cost, check=watch is None)
        outputs = self.classifier_outputs(images, cost, check=watch is None)
        rows = torch.arange(len(z), device=z.device)
        if watch is not None:
            watch.see(rows, images, outputs)
        state.update(rows, z, images, as_probs(outputs, self.outputs), leaps=steps)

    def _leaps(
        self,
        z: Tensor,
        cond: Tensor,
        goal: Tensor,
        gamma_lift: float,
        gamma_land: float,
        far: Tensor | None,
        boost: float,
    ) -> Tensor:
        """One leap of every row; the rows in mask ``far`` with both gammas times ``boost``
        (the fixed-step solvers treat each row alone, so splitting the batch changes nothing
        else)."""
        if far is None or not far.any():
            return leap(self.field, z, cond, goal, gamma_lift, gamma_land, self.solver)
        out = torch.empty_like(z)
        for rows, scale in ((~far, 1.0), (far, boost)):
            if rows.any():
                out[rows] = leap(
                    self.field,
                    z[rows],
                    cond[rows],
                    goal[rows],
                    gamma_lift * scale,
                    gamma_land * scale,
                    self.solver,
                )
        return out

    def _repel(
        self, z: Tensor, origin: Tensor, active: Tensor, z_new: Tensor, copies: int
    ) -> Tensor:
        """``z_new`` (rows ``active``) with each copy's change from ``origin`` stripped of
        ``repel`` times its projection on the changes of the earlier copies of its input."""
        full = z.clone()
        full[active] = z_new
        change = (full - origin).view(-1, copies, z.shape[1])
        basis: list[Tensor] = []
        out = change.clone()
        for k in range(copies):
            if k:
                along = sum((change[:, k] * q).sum(1, keepdim=True) * q for q in basis)
                out[:, k] = change[:, k] - self.diversity.repel * along
            q = out[:, k] - sum((out[:, k] * b).sum(1, keepdim=True) * b for b in basis)
            basis.append(q / q.norm(dim=1, keepdim=True).clamp_min(1e-12))
        return (origin + out.reshape_as(full))[active]


@dataclass
class _State:
    """The current latent, image, probabilities and leap count of every sample in a batch."""

    z: Tensor
    images: Tensor
    probs: Tensor
    steps: Tensor

    def update(self, idx: Tensor, z: Tensor, images: Tensor, probs: Tensor, leaps: int = 1) -> None:
        self.z, self.images, self.probs = self.z.clone(), self.images.clone(), self.probs.clone()
        self.z[idx], self.images[idx], self.probs[idx] = z, images, probs
        self.steps[idx] += leaps


class _Watch:
    """The finite check of the decoder's and the classifier's outputs in a batch's leaps, with
    one raise at the batch's end: every leap's outputs are still checked, per sample, but
    without stopping the loop each time (on a GPU, each stop waits for the device). The error
    is :func:`~leapfactual.explain.base.check_finite`'s for the earliest leap that had a
    non-finite output (the decoder's before the classifier's within a leap), naming the
    samples of the batch it hit."""

    ROLES = ("decoder", "classifier")

    def __init__(self, n: int, device: torch.device, explainer: LeapFactual) -> None:
        self.leap = 0
        self.first = {r: torch.full((n,), -1, dtype=torch.long, device=device) for r in self.ROLES}
        self.models = {"decoder": explainer.codec, "classifier": explainer.classifier}
        self.steps = {
            "decoder": explainer._step(None, "decoding"),
            "classifier": explainer._step(None, "classifying"),
        }

    def see(self, rows: Tensor, images: Tensor, outputs: Tensor) -> None:
        """Record which of ``rows`` got a non-finite image or classifier output in this leap."""
        for role, out in zip(self.ROLES, (images, outputs), strict=True):
            bad = ~torch.isfinite(out.detach()).reshape(len(out), -1).all(dim=1)
            now = torch.full_like(self.first[role], -1)
            now[rows] = torch.where(bad, self.leap, -1)
            self.first[role] = torch.where(self.first[role] < 0, now, self.first[role])
        self.leap += 1

    def check(self) -> None:
        """Raise the finite check's error for the earliest non-finite output seen, if any."""
        earliest: tuple[int, str] | None = None
        for role in self.ROLES:
            seen = self.first[role][self.first[role] >= 0]
            if len(seen) and (earliest is None or int(seen.min()) < earliest[0]):
                earliest = (int(seen.min()), role)
        if earliest is not None:
            leap, role = earliest
            bad = self.first[role] == leap
            raise nonfinite_error(role, self.models[role], self.steps[role], bad)


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


__all__ = ["Blend", "Diversity", "Inject", "LeapFactual"]
