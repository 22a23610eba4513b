"""Package faces that load on first use (PEP 562), so ``import leapfactual`` and the command
line's ``--help``, ``--version`` and argument errors never import torch.

A lazy face imports its names in an ``if TYPE_CHECKING:`` block (what mypy and IDEs read),
lists them in ``__all__`` as before, and ends with ``lazy_face(__name__, light=(...))``.
A name from one of the ``light`` modules (settings, option dataclasses: no torch) loads that
module alone; any other name loads every module the block names, in its order, as an eager
face would (so registrations made at import, such as a model type for ``load_module``, hold
for the whole package). A subpackage or submodule not named in the block loads as an
attribute on first use (``leapfactual.explain``).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
import types
from pathlib import Path
from typing import Any


def face_imports(path: Path) -> dict[str, tuple[str, str]]:
    """``{exported name: (module, attribute)}`` from the ``if TYPE_CHECKING:`` block of the
    face at ``path`` (its ``__init__.py``)."""
    found: dict[str, tuple[str, str]] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for stmt in node.body:
                if isinstance(stmt, ast.ImportFrom) and stmt.module:
                    for alias in stmt.names:
                        found[alias.asname or alias.name] = (stmt.module, alias.name)
    return found


class LazyFace(types.ModuleType):
    """A package face whose names load on first use (module docstring)."""

    _lazy_names: dict[str, tuple[str, str]]
    _lazy_light: tuple[str, ...]

    def __getattr__(self, name: str) -> Any:
        where = self.__dict__["_lazy_names"]
        if name not in where:
            qualified = f"{self.__name__}.{name}"
            if not name.startswith("__") and importlib.util.find_spec(qualified) is not None:
                return importlib.import_module(qualified)
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        module, attribute = where[name]
        if module.rsplit(".", 1)[-1] in self.__dict__["_lazy_light"]:
            value = getattr(importlib.import_module(module), attribute)
            self.__dict__[name] = value
            return value
        for owner in dict.fromkeys(m for m, _ in where.values()):
            importlib.import_module(owner)
        for exported, (owner, attr) in where.items():
            self.__dict__[exported] = getattr(sys.modules[owner], attr)
        return self.__dict__[name]

    def __setattr__(self, name: str, value: Any) -> None:
        # Loading a submodule sets it as an attribute of its package; where the face exports
        # a function of the same name (``flow.leap``), the face's name wins, as it did eagerly.
        if isinstance(value, types.ModuleType) and name in self.__dict__.get("_lazy_names", {}):
            return
        super().__setattr__(name, value)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self.__dict__["_lazy_names"]))


def lazy_face(name: str, light: tuple[str, ...] = ()) -> None:
    """Make the package ``name`` (called from its own ``__init__``) a :class:`LazyFace`;
    ``light``: its modules that load alone (they import no torch)."""
    module = sys.modules[name]
    assert module.__file__ is not None
    where = face_imports(Path(module.__file__))
    missing = sorted(set(getattr(module, "__all__", ())) - set(where) - set(vars(module)))
    if missing:
        raise ImportError(f"{name}.__all__ names {missing}, which its face does not import")
    module.__dict__["_lazy_names"] = where
    module.__dict__["_lazy_light"] = light
    module.__class__ = LazyFace
