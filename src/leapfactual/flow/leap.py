"""LEAP: one lift towards noise under the current condition, one landing under the target.

For a field ``v``, a latent ``z`` (at t = 1), its condition ``c`` and the target's ``c'``::

    lift:  z_0 = z   + integral from t=1 to t=0 of  gamma_lift * v(t, z(t), c)  dt
    land:  z'  = z_0 + integral from t=0 to t=1 of  gamma_land * v(t, z(t), c') dt

Both integrals sweep the whole time interval; gamma scales the velocity, not the interval.
With ``gamma = 1`` the lift inverts ``z`` to noise and the land regenerates it under ``c'``
(with ``c' = c`` the round trip returns ``z``, up to the solver's error); a small gamma moves
``z`` about gamma times that full displacement, which is what blending and injection repeat.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from leapfactual.flow.fields import VectorField
from leapfactual.flow.options import Solver
from leapfactual.flow.solvers import integrate

Field = Callable[[Tensor, Tensor], Tensor]


def leap(
    field: VectorField,
    z: Tensor,
    cond: Tensor,
    cond_target: Tensor,
    gamma_lift: float = 1.0,
    gamma_land: float = 1.0,
    solver: Solver = Solver(),
    path: bool = False,
) -> Tensor:
    """Lift ``z`` (at t = 1) under ``cond`` and land it under ``cond_target``.

    Lift integrates ``dz/dt = gamma_lift * v(t, z, cond)`` from t = 1 down to t = 0; land
    integrates ``dz/dt = gamma_land * v(t, z, cond_target)`` from t = 0 up to t = 1. Gamma
    scales the velocity: time always sweeps the whole interval. ``gamma = 1`` inverts to noise
    and regenerates; a small gamma moves about gamma times the full displacement; a zero
    gamma skips that half (no field evaluations).

    With ``path=True`` returns every solver state of lift then land, ``[S, B, D]``.
    """
    field.check_latents(z)
    field.condition.validate(cond, z.shape[0])
    field.condition.validate(cond_target, z.shape[0])
    if gamma_lift < 0 or gamma_land < 0:
        raise ValueError(f"gammas must be >= 0, got lift={gamma_lift}, land={gamma_land}")
    states = [z.unsqueeze(0)]
    for gamma, cond_, t0, t1 in ((gamma_lift, cond, 1.0, 0.0), (gamma_land, cond_target, 0.0, 1.0)):
        if gamma == 0:
            continue

        under = field.conditioned(cond_)  # the condition's share, once per half-leap

        def velocity(t: Tensor, x: Tensor, g: float = gamma, v: Field = under) -> Tensor:
            return g * v(t, x)

        out = integrate(velocity, states[-1][-1], t0, t1, solver, path=path)
        states.append(out[1:] if path else out.unsqueeze(0))
    if path:
        return torch.cat(states)
    return states[-1][-1]
