"""Checkpoints of ``nn.Module`` s rebuilt from JSON: no code in the file is ever executed.

A module class opts in with :func:`register`, which also records the arguments each instance
is built with in ``self.config`` (its signature's parameters, defaults filled in, as JSON
values: the constructor states them once). :func:`save_module` writes the weights and
``{"type": class name, "config": ...}``; :func:`load_module` looks the class up in the
registry and rebuilds it from the config.
"""

from __future__ import annotations

import functools
import inspect
import numbers
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar, cast

import torch
from torch import nn

from leapfactual._version import __version__
from leapfactual.io.files import CheckpointError, load_tensors, save_tensors

MODULE_TYPES: dict[str, type[nn.Module]] = {}
M = TypeVar("M", bound=type[nn.Module])


def register(cls: M) -> M:
    """Class decorator: make ``cls`` loadable by :func:`load_module`, and have each instance
    record its constructor arguments in ``self.config`` (see :func:`recorded_arguments`).

    Arguments listed in the class attribute ``unrecorded_when_none`` are left out of the
    config when they are None (arguments added after checkpoints without them were written);
    the class attribute ``renamed_arguments`` (old name -> new name) lets checkpoints written
    before an argument was renamed load.
    A constructor with ``*args`` or ``**kwargs`` cannot be recorded and is refused.
    """
    init = cls.__init__
    signature = inspect.signature(init)
    loose = [
        ("*" if p.kind is p.VAR_POSITIONAL else "**") + p.name
        for p in signature.parameters.values()
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if loose:
        raise ValueError(
            f"{cls.__name__}.__init__ takes {loose[0]}: a registered module's constructor "
            "arguments are its checkpoint's config, so name each one (no *args or **kwargs)"
        )

    @functools.wraps(init)
    def recording_init(self: Any, *args: Any, **kwargs: Any) -> None:  # an nn.Module
        init(self, *args, **kwargs)
        bound = signature.bind(self, *args, **kwargs)
        self.config = recorded_arguments(bound, getattr(cls, "unrecorded_when_none", ()))

    cast(Any, cls).__init__ = recording_init  # the class is patched on purpose
    MODULE_TYPES[cls.__name__] = cls
    return cls


def recorded_arguments(
    bound: inspect.BoundArguments, unrecorded_when_none: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The bound constructor arguments (after ``self``), defaults filled in, as JSON values:
    integers as ``int``, other real numbers as ``float``, tuples as lists."""
    bound.apply_defaults()
    names = list(bound.signature.parameters)[1:]
    return {
        name: _as_json(bound.arguments[name])
        for name in names
        if not (name in unrecorded_when_none and bound.arguments[name] is None)
    }


def _as_json(value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, list | tuple):
        return [_as_json(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _as_json(v) for k, v in value.items()}
    return value  # not JSON: save_module refuses it by name


def save_module(module: nn.Module, path: str | os.PathLike[str], **extra: Any) -> Path:
    """Save weights and ``module.config`` (``path``.safetensors + ``path``.json)."""
    config = getattr(module, "config", None)
    if not isinstance(config, dict):
        raise TypeError(f"{type(module).__name__} has no `config` dict; it cannot be saved")
    meta = {
        "kind": "module",
        "type": type(module).__name__,
        "config": config,
        "leapfactual_version": __version__,
        **extra,
    }
    return save_tensors(path, module.state_dict(), meta)


def load_module(
    path: str | os.PathLike[str],
    device: str | torch.device = "cpu",
    expected: type[nn.Module] = nn.Module,
) -> nn.Module:
    """Rebuild a module saved by :func:`save_module`; check it is an ``expected``."""
    tensors, meta = load_tensors(path, device)
    if meta.get("kind") != "module":
        raise CheckpointError(
            f"{path} holds a {meta.get('kind') or 'file of unknown kind'!r}, not a module "
            "checkpoint; give a file written by save_module (e.g. RUN/vae or RUN/flow)"
        )
    kind = meta.get("type", "")
    cls = MODULE_TYPES.get(kind)
    written = meta.get("leapfactual_version", "an unknown version")
    if cls is None:
        raise CheckpointError(
            f"{path} holds an unknown module type {kind!r}; known: {sorted(MODULE_TYPES)}. "
            f"It was written by leapfactual {written} (this is {__version__}): load it with "
            "that version, or register the class with leapfactual.io.register."
        )
    if not issubclass(cls, expected):
        raise CheckpointError(f"{path} holds a {kind}, not a {expected.__name__}")
    config = meta.get("config", {})
    try:
        if not isinstance(config, dict):
            raise TypeError(f"config must be an object, got {type(config).__name__}")
        renamed: dict[str, str] = getattr(cls, "renamed_arguments", {})
        config = {renamed.get(key, key): value for key, value in config.items()}
        with torch.device("meta"):  # shapes only, nothing allocated: a sidecar asking for
            probe = cls(**config)  # a huge model is refused before any memory is taken
    except (TypeError, ValueError) as err:
        raise CheckpointError(
            f"{path}: the stored settings do not fit {kind} ({err}); the file was written by "
            f"leapfactual {written} (this is {__version__}). Re-create it with this version."
        ) from err
    wanted = {k: list(v.shape) for k, v in probe.state_dict().items()}
    stored = {k: list(v.shape) for k, v in tensors.items()}
    if wanted != stored:
        first = next(k for k in sorted(set(wanted) | set(stored)) if wanted.get(k) != stored.get(k))
        raise CheckpointError(
            f"{path}: the weights do not fit the stored {kind} architecture ({first!r}: "
            f"settings need {wanted.get(first)}, the file holds {stored.get(first)}); the file "
            "is inconsistent. Re-create it."
        )
    module = cls(**config)
    try:
        module.load_state_dict(tensors)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise CheckpointError(
            f"{path}: the weights do not fit the stored {kind} architecture ({first}); "
            "the file is inconsistent. Re-create it."
        ) from err
    return module.to(device).eval()
