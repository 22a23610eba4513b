"""The explainers' options that settings files and the command line parse: LeapFactual's
schedule (:class:`Blend`, :class:`Inject`), its diversity mechanism and what a non-finite model
output does. Plain dataclasses without torch, so that settings are checked before it loads."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

MECHANISMS = ("noise", "repel")
BUILT_IN_METHODS = ("leapfactual", "opt", "cgm", "latent_attack", "pixel_attack", "reflection")
"""The methods the registry holds before any plugin (``registered_methods`` adds those)."""


@dataclass(frozen=True)
class Blend:
    """Blending: ``steps`` leaps with equal lift and land ``gamma``.

    Two optional early stops (None, the paper's behaviour, always takes every step); a sample
    stops at the first leap after which either holds:

    - ``tol``: its latent moved less than ``tol`` (root mean square per dimension) in the leap;
    - ``settle`` (classifiers only): the classifier puts it in the target class and its target
      probability rose by less than ``settle`` in the leap (it crossed and stopped climbing).

    ``boost`` (classifiers only): a sample the classifier does not yet put in the target class
    leaps with ``boost * gamma`` (larger first leaps); 1 is the paper's schedule.
    """

    gamma: float = 0.1
    steps: int = 15
    tol: float | None = None
    settle: float | None = None
    boost: float = 1.0

    def __post_init__(self) -> None:
        tol_ok = self.tol is None or (math.isfinite(self.tol) and self.tol > 0)
        settle_ok = self.settle is None or (math.isfinite(self.settle) and self.settle > 0)
        gamma_ok = math.isfinite(self.gamma) and self.gamma > 0
        boost_ok = math.isfinite(self.boost) and self.boost > 0
        if not (gamma_ok and boost_ok and self.steps >= 0 and tol_ok and settle_ok):
            raise ValueError(
                "Blend needs a finite gamma > 0 and boost > 0, steps >= 0, and a finite tol > 0 "
                f"and settle > 0 or None; got {self}"
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


@dataclass(frozen=True)
class Diversity:
    """How ``explain(x, target, diverse=K)`` makes K different CEs of an input.

    Copy 0 is the usual CE. In every blending leap, copy k >= 1 lands from its lifted latent
    plus seeded Gaussian noise of standard deviation ``spread * gamma`` (a fresh draw of the
    noise share that a lift by ``gamma`` puts in), drawn from a generator seeded by the
    explainer's seed, the input's values and k, so the CEs do not depend on the batch.

    - ``noise``: only that.
    - ``repel``: also, after every blending leap, copy k's change ``z_k - z`` loses ``repel``
      times its projection on the span of the changes of copies 0..k-1, so each CE avoids the
      directions the earlier ones took.
    """

    mechanism: str = "noise"
    spread: float = 1.0
    repel: float = 1.0

    def __post_init__(self) -> None:
        if self.mechanism not in MECHANISMS:
            raise ValueError(
                f"unknown diversity mechanism {self.mechanism!r}; choose one of {MECHANISMS}"
            )
        spread_ok = math.isfinite(self.spread) and self.spread > 0
        if not spread_ok or not (math.isfinite(self.repel) and 0 <= self.repel <= 1):
            raise ValueError(f"Diversity needs a finite spread > 0 and repel in [0, 1]; got {self}")


NonFinite = Literal["error", "invalid"]
NONFINITE: tuple[NonFinite, ...] = ("error", "invalid")
"""What a non-finite model output does: stop with an error naming the model and the step, or
mark the sample invalid (see :meth:`Explainer.set_nonfinite`)."""


def check_nonfinite(mode: str) -> NonFinite:
    """``mode`` if it is one of :data:`NONFINITE`, else a ``ValueError`` listing them."""
    for known in NONFINITE:
        if mode == known:
            return known
    raise ValueError(
        f"nonfinite must be one of {', '.join(NONFINITE)} (what a NaN or infinite model "
        f"output does), got {mode!r}"
    )
