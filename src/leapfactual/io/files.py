"""Safetensors + JSON sidecar files with atomic writes.

Every file the project writes goes through here: tensors in ``NAME.safetensors``, everything
else (architecture, configuration, versions) in ``NAME.json``. Nothing is ever pickled, so
loading a file never runs code. Writes go to a temporary file in the same directory and are
renamed into place, so a run killed mid-write never leaves a half file behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A stored file is missing, unreadable, unsafe or inconsistent with its sidecar."""


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _paths(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    base = Path(path)
    if base.suffix in {".safetensors", ".json"}:
        base = base.with_suffix("")
    return base.with_suffix(".safetensors"), base.with_suffix(".json")


def save_tensors(
    path: str | os.PathLike[str], tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> Path:
    """Save ``tensors`` as safetensors and ``meta`` as a JSON sidecar next to it.

    ``path`` may name either file or their common stem. The sidecar records the tensor names,
    shapes and dtypes so that a mismatched pair is detected on load. Returns the tensor file.
    """
    tensor_path, meta_path = _paths(path)
    contiguous = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    sidecar = {
        "format_version": FORMAT_VERSION,
        "tensors": {
            k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in contiguous.items()
        },
        **meta,
    }
    atomic_write_bytes(tensor_path, st_save(contiguous))
    atomic_write_text(meta_path, json.dumps(sidecar, indent=2, sort_keys=True, default=str))
    return tensor_path


def load_tensors(
    path: str | os.PathLike[str], device: str | torch.device = "cpu"
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load a pair written by :func:`save_tensors`; raise :class:`CheckpointError` on any fault."""
    tensor_path, meta_path = _paths(path)
    for p in (tensor_path, meta_path):
        if not p.is_file():
            raise CheckpointError(
                f"{p} does not exist: a leapfactual checkpoint is a pair "
                f"'{tensor_path.name}' + '{meta_path.name}'. Check the path."
            )
    raw = tensor_path.read_bytes()
    if raw[:2] == b"\x80\x02" or raw[:4] == b"PK\x03\x04":
        raise CheckpointError(
            f"{tensor_path} is a pickle / torch.save file, not safetensors. leapfactual never "
            "unpickles files (it could run code). If you trust it, load it yourself with "
            "torch.load(path, weights_only=True) and save the state dict with save_tensors."
        )
    try:
        tensors = st_load(raw)
    except (SafetensorError, ValueError, OSError) as err:
        raise CheckpointError(
            f"{tensor_path} is not a readable safetensors file ({err}); it may be truncated "
            "or corrupt. Re-create it."
        ) from err
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{meta_path} is not valid JSON ({err}). Re-create it.") from err
    expected = meta.get("tensors", {})
    if set(expected) != set(tensors) or any(
        list(tensors[k].shape) != expected[k]["shape"] for k in tensors
    ):
        raise CheckpointError(
            f"{meta_path} does not describe the tensors in {tensor_path} (names or shapes "
            "differ): the two files come from different saves. Re-create them together."
        )
    return {k: v.to(device) for k, v in tensors.items()}, meta
