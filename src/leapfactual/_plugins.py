"""Plugins: installed packages that add methods or datasets through an entry-point group.

A package declares, in its ``pyproject.toml``::

    [project.entry-points."leapfactual.plugins"]
    my_methods = "my_package.leapfactual_plugin:register"

and ``register()`` calls :func:`leapfactual.register_method` and/or
:func:`leapfactual.register_dataset`. The group is read once, on the first lookup in either
registry (not at import), so a plugin costs nothing until a method or dataset is looked up.
Only installed distributions are read: nothing named by a data file is ever imported.
"""

from __future__ import annotations

from importlib import metadata

GROUP = "leapfactual.plugins"

_state = {"loaded": False}


def load_plugins() -> None:
    """Call every ``leapfactual.plugins`` entry point once per process.

    A plugin that fails to load or register raises a ``ValueError`` naming it and the fix."""
    if _state["loaded"]:
        return
    _state["loaded"] = True  # before calling them: a plugin's own lookups must not recurse
    for entry in sorted(metadata.entry_points(group=GROUP), key=lambda e: e.name):
        try:
            register = entry.load()
            register()
        except Exception as err:
            raise ValueError(
                f"leapfactual plugin {entry.name!r} ({entry.value}) failed to load: "
                f"{type(err).__name__}: {err}; fix or uninstall the package that provides it"
            ) from err


def reset_plugins() -> None:
    """Forget that plugins were loaded (for tests that install one)."""
    _state["loaded"] = False
