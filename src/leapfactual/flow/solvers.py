"""ODE solvers: fixed-step Euler, midpoint and RK4, and adaptive ones through torchdiffeq.

One front door, :func:`integrate`, integrates ``dz/dt = func(t, z)`` from ``t0`` to ``t1``;
``t1 < t0`` integrates backward in time. The fixed-step solvers treat every sample on its own,
so a sample's result never depends on the rest of its batch. Adaptive solvers share one step
size across the batch (that is how torchdiffeq works), so their results do. An adaptive solver
with ``checkpoints`` is made to end a step on each of that many evenly spaced times (the
paper's reference integrates this way, through a 5-point time grid).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from leapfactual.flow.options import Solver

Func = Callable[[Tensor, Tensor], Tensor]
Step = Callable[[Func, Tensor, Tensor, Tensor], Tensor]


def euler_step(func: Func, t: Tensor, z: Tensor, dt: Tensor) -> Tensor:
    """First order: one evaluation."""
    return z + dt * func(t, z)


def midpoint_step(func: Func, t: Tensor, z: Tensor, dt: Tensor) -> Tensor:
    """Second order: two evaluations."""
    k1 = func(t, z)
    return z + dt * func(t + dt / 2, z + dt / 2 * k1)


def rk4_step(func: Func, t: Tensor, z: Tensor, dt: Tensor) -> Tensor:
    """Classic fourth-order Runge-Kutta: four evaluations."""
    k1 = func(t, z)
    k2 = func(t + dt / 2, z + dt / 2 * k1)
    k3 = func(t + dt / 2, z + dt / 2 * k2)
    k4 = func(t + dt, z + dt * k3)
    return z + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


FIXED_STEP: dict[str, Step] = {"euler": euler_step, "midpoint": midpoint_step, "rk4": rk4_step}
"""The step of each of :data:`~leapfactual.flow.options.FIXED_STEP_METHODS`."""


def integrate(
    func: Func,
    z: Tensor,
    t0: float,
    t1: float,
    solver: Solver = Solver(),
    path: bool = False,
) -> Tensor:
    """Integrate ``dz/dt = func(t, z)`` from ``t0`` to ``t1`` starting at ``z``.

    Returns the end state, or with ``path=True`` the states at every grid time stacked on a
    new first axis (``steps + 1`` states for fixed-step solvers; for adaptive solvers the
    states at the same uniform grid, interpolated by torchdiffeq).
    """
    grid = torch.linspace(t0, t1, solver.steps + 1, dtype=z.dtype, device=z.device)
    if not solver.fixed:
        from torchdiffeq import odeint

        times = grid if path else grid[[0, -1]]
        options = None
        if solver.checkpoints is not None:
            stops = torch.linspace(t0, t1, solver.checkpoints, dtype=z.dtype, device=z.device)
            options = {"step_t": stops}
        states = odeint(
            func,
            z,
            times,
            method=solver.method,
            atol=solver.atol,
            rtol=solver.rtol,
            options=options,
        )
        return states if path else states[-1]
    step = FIXED_STEP[solver.method]
    states = [z]
    for i in range(solver.steps):
        z = step(func, grid[i], z, grid[i + 1] - grid[i])
        if path:
            states.append(z)
    return torch.stack(states) if path else z
