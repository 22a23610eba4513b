"""Scores against a ground-truth counterfactual: how close is a CE to the true one?

Where the true counterfactual of every input is known (an intervention on one measurement,
such as Morpho-MNIST's ``do(thickness = t)``), a CE is scored by its distance to the true CE
image, its error on the intervened measurement, and the change, relative to the true CE, of
the measurements the intervention should leave alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from leapfactual.metrics._checks import as_tensor, check_mask
from leapfactual.metrics.morphometric import mean_sem, relative_change
from leapfactual.metrics.proximity import proximity
from leapfactual.morpho import MEASUREMENTS, measure

KEPT = ("length", "slant", "width", "height")
"""The measurements a thickness intervention should not move (area grows with thickness)."""


def ground_truth_scores(
    x_cf: Any,
    x_true: Any,
    value: Any,
    measurement: str = "thickness",
    kept: Sequence[str] = KEPT,
    mask: Any = None,
    true_measurements: dict[str, np.ndarray] | None = None,
) -> dict[str, float | tuple[float, float]]:
    """Scores of CEs ``x_cf`` against the true CEs ``x_true`` (grey digits ``[B, 1, H, W]``).

    ``value`` (a number or one per CE) is what the intervention set ``measurement`` to.
    Returns ``l1`` and ``ssim`` to the true CE (means), ``error``: mean ± SEM of
    ``|m(x') - value|`` in the measurement's units, and for each of ``kept`` the mean ± SEM of
    ``|m(x') - m(x_true)| / |m(x_true)|``. ``mask`` keeps only some CEs;
    ``true_measurements`` reuses :func:`~leapfactual.morpho.measure` of ``x_true``.
    """
    unknown = sorted({measurement, *kept} - set(MEASUREMENTS))
    if unknown:
        raise ValueError(f"unknown measurements {unknown}; choose from {list(MEASUREMENTS)}")
    cf = as_tensor(x_cf, "x_cf")
    keep = check_mask(mask, cf.shape[0])
    goal = np.broadcast_to(as_tensor(value, "value").double().numpy(), (cf.shape[0],))
    m_cf = measure(cf)
    m_true = true_measurements if true_measurements is not None else measure(x_true)
    close = proximity(cf, x_true, keep)
    out: dict[str, float | tuple[float, float]] = {"l1": close["l1"], "ssim": close["ssim"]}
    out["error"] = mean_sem(np.abs(np.asarray(m_cf[measurement], np.float64) - goal), keep)
    change = relative_change({k: m_cf[k] for k in kept}, {k: m_true[k] for k in kept}, keep)
    return out | change


__all__ = ["KEPT", "ground_truth_scores"]
