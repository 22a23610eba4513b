"""Checks of training settings that need no torch (the command line runs them first)."""

from __future__ import annotations

import math


def check_patience(where: str, patience: int, min_improvement: float) -> None:
    """Refuse a ``patience`` that is not a whole number >= 0 and a ``min_improvement`` that
    is not a finite number in [0, 1)."""
    if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
        raise ValueError(
            f"{where}.patience must be a whole number of epochs >= 0 (0: no early stopping), "
            f"got {patience!r}"
        )
    if not (isinstance(min_improvement, int | float) and math.isfinite(min_improvement)):
        raise ValueError(
            f"{where}.min_improvement must be a finite fraction in [0, 1) (e.g. 0.01), "
            f"got {min_improvement!r}"
        )
    if not 0 <= min_improvement < 1:
        raise ValueError(
            f"{where}.min_improvement must be a fraction in [0, 1) (e.g. 0.01), "
            f"got {min_improvement!r}"
        )
