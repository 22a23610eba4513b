"""The one progress bar: tqdm's notebook widget in a Jupyter kernel that has ``ipywidgets``,
its console bar everywhere else. Unlike ``tqdm.auto``, importing it never warns (a plain
kernel without ``ipywidgets`` gets the console bar, not a ``TqdmWarning``)."""

from __future__ import annotations

import importlib.util
import sys

from tqdm.std import tqdm as console_tqdm


def _widgets() -> bool:
    """Whether this process is a Jupyter kernel that can draw tqdm's widget."""
    return "ipykernel" in sys.modules and importlib.util.find_spec("ipywidgets") is not None


def _bar() -> type[console_tqdm]:
    if _widgets():
        from tqdm.notebook import tqdm as notebook_tqdm

        return notebook_tqdm
    return console_tqdm


tqdm = _bar()

__all__ = ["tqdm"]
