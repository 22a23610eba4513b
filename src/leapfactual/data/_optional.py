"""Import the optional dependencies of the loaders with an error that says how to get them."""

from __future__ import annotations

import importlib
from types import ModuleType


def require(module: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise an ``ImportError`` that names the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"{purpose} needs the package providing '{module}', which is not installed; "
            "install the data extras with: pip install 'leapfactual[data]'"
        ) from err
