"""The ``leapfactual`` command line (typer): thin commands that parse, call the library and
print. What another typer app built on the library needs is here: the shared option types and
:func:`run_app` (one-line errors, exit code 2).

Importing this package imports nothing else (the console script first checks that typer is
installed); the names below load on first use. The command modules (``demo``, ``fit``,
``explain``, ``report``, ``audit``, ``repair``, ``app``) keep their annotations evaluated at
import (no ``from __future__ import annotations``): typer reads every command's signature to
answer any command line, and string annotations would cost it a compile each (a fifth of a bad
flag's start-up, ``benchmarks/startup.py``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from leapfactual.cli.common import Device, Limit, Seed, Set
    from leapfactual.cli.errors import one_line, run_app, state

_WHERE = {
    "Device": "common",
    "Limit": "common",
    "Seed": "common",
    "Set": "common",
    "one_line": "errors",
    "run_app": "errors",
    "state": "errors",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'leapfactual.cli' has no attribute {name!r}")
    return getattr(importlib.import_module(f"leapfactual.cli.{_WHERE[name]}"), name)


__all__ = ["Device", "Limit", "Seed", "Set", "one_line", "run_app", "state"]
