"""How much does a counterfactual change the digit's shape? Morpho-MNIST relative change."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from leapfactual.metrics._checks import check_mask
from leapfactual.morpho import MEASUREMENTS, measure


def relative_change(
    m_cf: Mapping[str, Any], m_ref: Mapping[str, Any], mask: Any = None
) -> dict[str, tuple[float, float]]:
    """Per measurement, mean and standard error over CEs of
    ``|m(x') - m(x_ref)| / |m(x_ref)|``, from measurements already taken (as returned by
    :func:`leapfactual.morpho.measure`).

    CEs where either value is NaN (an empty image) or the reference is 0 are left out of that
    measurement; ``mask`` keeps only some CEs (the valid ones). The SEM is
    ``std(ddof=1) / sqrt(n)``; NaN below two values, and (NaN, NaN) with none.
    """
    names = [name for name in m_ref if name in m_cf]
    if not names:
        raise ValueError("the two measurement sets share no measurement name")
    out: dict[str, tuple[float, float]] = {}
    for name in names:
        cf = np.asarray(m_cf[name], dtype=np.float64)
        ref = np.asarray(m_ref[name], dtype=np.float64)
        if cf.shape != ref.shape or cf.ndim != 1:
            raise ValueError(
                f"{name}: expected two [B] arrays of one length, got {cf.shape} and {ref.shape}"
            )
        keep = check_mask(mask, len(cf))
        with np.errstate(invalid="ignore", divide="ignore"):
            change = np.abs(cf - ref) / np.abs(ref)
        out[name] = mean_sem(change, keep)
    return out


def mean_sem(values: np.ndarray, keep: Any = None) -> tuple[float, float]:
    """Mean and standard error ``std(ddof=1) / sqrt(n)`` of the finite ``values`` (those
    ``keep`` marks, when given); NaN SEM below two values, (NaN, NaN) with none."""
    finite = np.isfinite(values)
    if keep is not None:
        finite &= np.asarray(keep, dtype=bool)
    kept = values[finite]
    if len(kept) == 0:
        return (math.nan, math.nan)
    sem = float(kept.std(ddof=1) / math.sqrt(len(kept))) if len(kept) > 1 else math.nan
    return (float(kept.mean()), sem)


def morphometric_change(
    x_cf: Any, x_ref: Any, mask: Any = None, **measure_options: Any
) -> dict[str, tuple[float, float]]:
    """Morphometric change of docs/method.md §6.2: for each Morpho-MNIST measurement m (area,
    length, thickness, slant, width, height), the mean ± SEM over CEs of
    ``|m(x') - m(x_ref)| / |m(x_ref)|``. In the paper ``x_ref`` is the VAE reconstruction of
    the input, so the autoencoder's own error is not charged to the explainer.

    Images are grey digits in [0, 1] (see :func:`leapfactual.morpho.measure`, which gets
    ``measure_options``); ``mask`` keeps only some CEs. Returns ``{name: (mean, sem)}``.
    """
    m_cf = measure(x_cf, **measure_options)
    m_ref = measure(x_ref, **measure_options)
    if len(m_cf["area"]) != len(m_ref["area"]):
        raise ValueError(
            f"x_cf and x_ref must pair up, got {len(m_cf['area'])} and {len(m_ref['area'])} images"
        )
    changes = relative_change(m_cf, m_ref, mask)
    return {name: changes[name] for name in MEASUREMENTS}
