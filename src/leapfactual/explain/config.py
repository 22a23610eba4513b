"""An explainer's settings read from its constructor's signature (stated once, in ``__init__``).

Each parameter of ``__init__`` is a setting whose value is the explainer's attribute of the
same name (scikit-learn's ``get_params`` rule). Values that are plain data (numbers, strings,
None, sequences and dataclasses of them) are recorded; models and other objects are not
settings and are left out, as are the parameters a class names in ``unrecorded``.
"""

from __future__ import annotations

import dataclasses
import inspect
import numbers
from collections.abc import Mapping
from typing import Any

_NOT_DATA = object()


def parameter_names(cls: type) -> list[str]:
    """The names of ``cls``'s constructor parameters, in order (not ``*args``, ``**kwargs``)."""
    params = inspect.signature(cls).parameters.values()
    return [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def settings_of(
    obj: object,
    names: list[str],
    unrecorded: tuple[str, ...] = (),
    unrecorded_when_none: tuple[str, ...] = (),
) -> dict[str, Any]:
    """``{name: plain value}`` for ``names`` read from ``obj``'s attributes; a name without
    an attribute is a ``ValueError`` naming the fix."""
    out: dict[str, Any] = {}
    for name in names:
        if name in unrecorded:
            continue
        if not hasattr(obj, name):
            cls = type(obj).__name__
            raise ValueError(
                f"{cls} keeps no attribute {name!r} for its constructor argument {name}: an "
                f"explainer's config is read from the attributes named as its arguments; set "
                f"self.{name} in {cls}.__init__, or add {name!r} to {cls}.unrecorded"
            )
        value = plain(getattr(obj, name))
        if value is _NOT_DATA or (value is None and name in unrecorded_when_none):
            continue
        out[name] = value
    return out


def plain(value: Any) -> Any:
    """``value`` as JSON data (tuples and dataclasses as lists and dicts), or a marker that
    it is not data (a model, a tensor, any other object)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, list | tuple):
        items = [plain(v) for v in value]
        return _NOT_DATA if any(v is _NOT_DATA for v in items) else items
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        entries = {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    elif isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        entries = {k: plain(v) for k, v in value.items()}
    else:
        return _NOT_DATA
    return _NOT_DATA if any(v is _NOT_DATA for v in entries.values()) else entries
