"""What settings files and the command line choose about a flow: the condition encodings and
the ODE solver (:class:`Solver`). Plain values without torch, so settings are checked before it
loads; the solvers themselves are in :mod:`leapfactual.flow.solvers`."""

from __future__ import annotations

import math
from dataclasses import dataclass

KINDS: tuple[str, ...] = ("softmax", "onehot", "class", "scalar")
"""The encodings of a classifier's output (a regressor's flow is always ``value``)."""
FIXED_STEP_METHODS: tuple[str, ...] = ("euler", "midpoint", "rk4")
ADAPTIVE: tuple[str, ...] = ("dopri5", "dopri8", "bosh3", "adaptive_heun")
EVALS_PER_STEP: dict[str, int] = {"euler": 1, "midpoint": 2, "rk4": 4}


@dataclass(frozen=True)
class Solver:
    """How to integrate: ``method`` plus ``steps`` (fixed-step) or ``atol``/``rtol`` (adaptive).

    ``Solver()`` takes 4 RK4 steps over the interval (16 evaluations); it is the one default
    of :func:`~leapfactual.flow.leap`, :func:`~leapfactual.flow.integrate`,
    :class:`~leapfactual.explain.LeapFactual` and the explain settings. ``Solver("rk4", 8)``
    takes 8 (32 evaluations).
    ``Solver("dopri5")`` is adaptive Dormand-Prince with atol = rtol = 1e-4, end to end.
    ``checkpoints`` (adaptive only): also end a step on each of this many evenly spaced times,
    both ends included; ``Solver("dopri5", checkpoints=5)`` is the paper's integration (a
    step ends on every quarter of the interval, so it takes more evaluations).
    """

    method: str = "rk4"
    steps: int = 4
    atol: float = 1e-4
    rtol: float = 1e-4
    checkpoints: int | None = None

    def __post_init__(self) -> None:
        if self.method not in FIXED_STEP_METHODS and self.method not in ADAPTIVE:
            raise ValueError(
                f"unknown solver {self.method!r}; choose one of "
                f"{sorted(FIXED_STEP_METHODS) + list(ADAPTIVE)}"
            )
        if self.method in FIXED_STEP_METHODS and self.steps < 1:
            raise ValueError(f"a fixed-step solver needs steps >= 1, got {self.steps}")
        if not all(math.isfinite(v) and v > 0 for v in (self.atol, self.rtol)):
            raise ValueError(
                f"atol and rtol must be finite and positive, got {self.atol}, {self.rtol}"
            )
        if self.checkpoints is not None:
            if self.method in FIXED_STEP_METHODS:
                raise ValueError(
                    f"checkpoints apply to adaptive solvers ({', '.join(ADAPTIVE)}), not to "
                    f"{self.method!r}; a fixed-step solver ends a step every 1/steps already"
                )
            if self.checkpoints < 2:
                raise ValueError(
                    f"checkpoints must be >= 2 (both ends of the interval), got {self.checkpoints}"
                )

    @property
    def fixed(self) -> bool:
        return self.method in FIXED_STEP_METHODS
