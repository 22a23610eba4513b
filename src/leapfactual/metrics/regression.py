"""Validity of a regressor's counterfactuals: does the CE's value land near the target?"""

from __future__ import annotations

import math
from typing import Any

from leapfactual.metrics._checks import as_tensor


def value_validity(values: Any, target: Any, tolerance: float) -> float:
    """Share of CEs with ``|f(x') - target| <= tolerance`` (``values`` ``[B]`` or ``[B, 1]``,
    ``target`` a number or ``[B]``)."""
    if not (math.isfinite(tolerance) and tolerance > 0):
        raise ValueError(f"tolerance must be a finite number > 0, got {tolerance!r}")
    v = as_tensor(values, "values").double().reshape(-1)
    t = as_tensor(target, "target").double().reshape(-1).expand(v.shape[0])
    return float(((v - t).abs() <= tolerance).double().mean())


__all__ = ["value_validity"]
