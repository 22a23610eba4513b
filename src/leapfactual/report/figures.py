"""Figures for pages and reports: matplotlib's object API, never the global backend."""

from __future__ import annotations

from typing import Any

from leapfactual._optional import require


def figure(**options: Any) -> Any:
    """A new ``matplotlib.figure.Figure(**options)``; needs the ``plots`` extra."""
    return require("matplotlib.figure", "plots", "drawing figures").Figure(**options)
