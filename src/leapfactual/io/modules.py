"""Checkpoints of ``nn.Module`` s rebuilt from JSON: no code in the file is ever executed.

A module class opts in with :func:`register`; it must keep its constructor arguments in
``self.config`` (a JSON-serialisable dict). :func:`save_module` writes the weights and
``{"type": class name, "config": ...}``; :func:`load_module` looks the class up in the
registry and rebuilds it from the config.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from leapfactual._version import __version__
from leapfactual.io.files import CheckpointError, load_tensors, save_tensors

MODULE_TYPES: dict[str, type[nn.Module]] = {}
M = TypeVar("M", bound=type[nn.Module])


def register(cls: M) -> M:
    """Class decorator: make ``cls`` loadable by :func:`load_module`."""
    MODULE_TYPES[cls.__name__] = cls
    return cls


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
