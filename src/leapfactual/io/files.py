"""Safetensors + JSON sidecar files with atomic writes.

Every file the project writes goes through here: tensors in ``NAME.safetensors``, everything
else (architecture, configuration, versions) in ``NAME.json``. Nothing is ever pickled, so
loading a file never runs code: a pickle, a ``torch.save`` archive or any other foreign file
is recognised by its first bytes and refused with a message. Both files of a pair carry the
same random save id, so a tensor file and a sidecar from different saves are never read as
one. Writes go to a temporary file in the same directory and are renamed into place, so a run
killed mid-write never leaves a half file behind (at worst an ignored ``.NAME.*.tmp``).

:func:`import_torch_state_dict` is the one explicit door for ``torch.save`` files a user
trusts: it reads them with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

FORMAT_VERSION = 1
SUFFIXES = (".safetensors", ".json")
_SAVE_ID = "leapfactual_save_id"


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


def looks_like_safetensors(head: bytes) -> bool:
    """Whether the first 9 bytes are a safetensors start: a little-endian header size (8
    bytes), then the ``{`` of the JSON header."""
    return len(head) >= 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") >= 2


def foreign_format(head: bytes) -> str | None:
    """What a file that is not safetensors is, judged by its first 9 bytes (None: unknown or
    safetensors). The safetensors signature is checked first: a header size of 640 bytes
    begins with the same two bytes as a pickle."""
    if looks_like_safetensors(head):
        return None
    if head[:4] == b"PK\x03\x04":
        return "a zip archive (the format of torch.save since PyTorch 1.6), which holds a pickle"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "a pickle (pickle.dump, or torch.save in its legacy format)"
    if head[:6] == b"\x93NUMPY":
        return "a NumPy .npy array"
    if head[:4] == b"\x89HDF":
        return "an HDF5 file"
    return None


def _refuse_foreign(path: Path, what: str) -> CheckpointError:
    return CheckpointError(
        f"{path} is {what}, not a leapfactual checkpoint (NAME.safetensors + NAME.json). "
        "leapfactual never unpickles files, since that can run code. If you trust the file, "
        "import its tensors with leapfactual.io.import_torch_state_dict(path) "
        "(torch.load with weights_only=True) and save them with save_tensors."
    )


def _paths(path: str | os.PathLike[str], reading: bool = False) -> tuple[Path, Path]:
    """The tensor file and sidecar of ``path`` (either file of the pair, or their stem).

    A stem keeps any dots of its own (``model.v2`` -> ``model.v2.safetensors``). When reading,
    an existing file with another suffix (``model.pt``) is refused with what it is.
    """
    base = Path(path)
    if base.suffix in SUFFIXES:
        base = base.with_suffix("")
    elif reading and base.suffix and base.is_file():
        with base.open("rb") as handle:
            what = foreign_format(handle.read(9))
        raise _refuse_foreign(base, what or f"a '{base.suffix}' file")
    return base.with_name(base.name + SUFFIXES[0]), base.with_name(base.name + SUFFIXES[1])


def save_tensors(
    path: str | os.PathLike[str], tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> Path:
    """Save ``tensors`` as safetensors and ``meta`` as a JSON sidecar next to it.

    ``path`` may name either file or their common stem. The sidecar records the tensor names,
    shapes and dtypes, and both files a random save id, so that a mismatched pair is detected
    on load. Returns the tensor file.
    """
    tensor_path, meta_path = _paths(path)
    contiguous = _unshared({k: v.detach().to("cpu").contiguous() for k, v in tensors.items()})
    save_id = uuid.uuid4().hex
    sidecar = {
        "format_version": FORMAT_VERSION,
        "save_id": save_id,
        "tensors": {
            k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in contiguous.items()
        },
        **meta,
    }
    atomic_write_bytes(tensor_path, st_save(contiguous, metadata={_SAVE_ID: save_id}))
    atomic_write_text(meta_path, json.dumps(sidecar, indent=2, sort_keys=True, default=str))
    return tensor_path


def _unshared(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Copies of tensors that share memory with an earlier one (safetensors refuses those)."""
    seen: set[int] = set()
    out = {}
    for key, value in tensors.items():
        ptr = value.untyped_storage().data_ptr()
        out[key] = value.clone() if ptr in seen and value.numel() else value
        seen.add(ptr)
    return out


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise CheckpointError(
            f"cannot read {path} ({err.strerror or err}); check its permissions"
        ) from err


def _safetensors_header(path: Path, raw: bytes) -> dict[str, Any]:
    """The JSON header of a safetensors file; refuse anything else with what it is."""
    what = foreign_format(raw[:9])
    if what is not None:
        raise _refuse_foreign(path, what)
    size = int.from_bytes(raw[:8], "little")
    if not looks_like_safetensors(raw[:9]):
        raise CheckpointError(
            f"{path} is not a safetensors file (it does not start with a safetensors header); "
            "give the NAME.safetensors file written by leapfactual, or re-create it."
        )
    if 8 + size > len(raw):
        raise CheckpointError(
            f"{path} is truncated: its header announces {size} bytes but the file has "
            f"{len(raw)}; it may be truncated or corrupt (an interrupted copy?). Re-create it."
        )
    try:
        header = json.loads(raw[8 : 8 + size])
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(
            f"{path} has a corrupt safetensors header ({err}); it may be truncated or "
            "corrupt. Re-create it."
        ) from err
    if not isinstance(header, dict):
        raise CheckpointError(f"{path} has a corrupt safetensors header; re-create it.")
    return header


def load_tensors(
    path: str | os.PathLike[str], device: str | torch.device = "cpu"
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load a pair written by :func:`save_tensors`; raise :class:`CheckpointError` on any fault."""
    tensor_path, meta_path = _paths(path, reading=True)
    for p in (tensor_path, meta_path):
        if not p.is_file():
            raise CheckpointError(
                f"{p} does not exist: a leapfactual checkpoint is a pair "
                f"'{tensor_path.name}' + '{meta_path.name}'. Check the path."
            )
    raw = _read(tensor_path)
    header = _safetensors_header(tensor_path, raw)
    try:
        tensors = st_load(raw)
    except (SafetensorError, ValueError, OSError) as err:
        raise CheckpointError(
            f"{tensor_path} is not a readable safetensors file ({err}); it may be truncated "
            "or corrupt. Re-create it."
        ) from err
    try:
        meta = json.loads(_read(meta_path).decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{meta_path} is not valid JSON ({err}). Re-create it.") from err
    if not isinstance(meta, dict) or not isinstance(meta.get("tensors", {}), dict):
        raise CheckpointError(
            f"{meta_path} is not a leapfactual sidecar (a JSON object with a 'tensors' "
            "entry). Re-create the pair."
        )
    _check_pair(tensor_path, meta_path, tensors, meta, header)
    return {k: v.to(device) for k, v in tensors.items()}, meta


def _check_pair(
    tensor_path: Path,
    meta_path: Path,
    tensors: dict[str, torch.Tensor],
    meta: dict[str, Any],
    header: dict[str, Any],
) -> None:
    expected = meta.get("tensors", {})
    stored_id = (header.get("__metadata__") or {}).get(_SAVE_ID)
    same_id = "save_id" not in meta or stored_id == meta["save_id"]
    try:
        described = set(expected) == set(tensors) and all(
            list(tensors[k].shape) == expected[k]["shape"]
            and str(tensors[k].dtype) == expected[k].get("dtype", str(tensors[k].dtype))
            for k in tensors
        )
    except (KeyError, TypeError):
        described = False
    if not (same_id and described):
        raise CheckpointError(
            f"{meta_path} does not describe the tensors in {tensor_path} ("
            + ("names, shapes or dtypes" if not described else "save ids")
            + " differ): the two files come from different saves. Re-create them together."
        )


def import_torch_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The tensors of a ``torch.save`` file you trust, read with ``weights_only=True``.

    For weights trained elsewhere (``torch.save(model.state_dict(), "model.pt")``). Only
    tensors and plain containers are unpickled (PyTorch's safe loader), never arbitrary
    objects; nested dicts are flattened with dots (``{"model": {"w": t}}`` -> ``"model.w"``)
    and non-tensor entries (an epoch counter, a config) are dropped. A safetensors file is
    read directly. Raises :class:`CheckpointError` when the file is missing, holds objects
    the safe loader refuses, or holds no tensors.
    """
    file = Path(path)
    if not file.is_file():
        raise CheckpointError(f"{file} does not exist; give the path of a torch.save file")
    raw = _read(file)
    if looks_like_safetensors(raw[:9]):
        try:
            return st_load(raw)
        except (SafetensorError, ValueError) as err:
            raise CheckpointError(
                f"{file} is not a readable safetensors file ({err}); re-create it"
            ) from err
    try:
        obj = torch.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"{file} holds objects other than tensors and plain containers, which the safe "
            f"loader (weights_only=True) refuses ({first}). Re-save only the weights: "
            "torch.save(model.state_dict(), path)."
        ) from err
    except (RuntimeError, EOFError, OSError, ValueError) as err:
        raise CheckpointError(
            f"{file} is not a readable torch.save file ({err}); it may be truncated or "
            "written by something else"
        ) from err
    tensors = _flatten(obj)
    if not tensors:
        raise CheckpointError(
            f"{file} holds no tensors (found {type(obj).__name__}); give a state dict saved "
            "with torch.save(model.state_dict(), path)"
        )
    return tensors


def _flatten(obj: Any, prefix: str = "") -> dict[str, torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        return {prefix.rstrip(".") or "tensor": obj.detach().contiguous()}
    out: dict[str, torch.Tensor] = {}
    if isinstance(obj, Mapping):
        for key, value in obj.items():
            out.update(_flatten(value, f"{prefix}{key}."))
    return out
