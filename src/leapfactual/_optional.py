"""The one way to import an optional dependency: a missing one names the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import ``module``, or raise a one-line ``ImportError`` naming ``leapfactual[extra]``.

    ``purpose`` says what needs it ("reading image files"). Only a missing ``module`` (or a
    missing parent package of it) becomes that message; an installed package that fails to
    import keeps its own error.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name is None or not (module == err.name or module.startswith(f"{err.name}.")):
            raise
        raise ImportError(
            f"{purpose} needs '{module.split('.')[0]}', which is not installed: "
            f"pip install 'leapfactual[{extra}]'"
        ) from err
