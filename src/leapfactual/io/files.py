"""Safetensors + JSON sidecar files with atomic writes.

Every file the project writes goes through here: tensors in ``NAME.safetensors``, everything
else (architecture, configuration, versions) in ``NAME.json``. Nothing is ever pickled, so
loading a file never runs code: a pickle, a ``torch.save`` archive or any other foreign file
is recognised by its first bytes and refused with a message. Both files of a pair carry the
same random save id, and the sidecar records the SHA-256 of the tensor file: a tensor file and
a sidecar from different saves are never read as one, and a damaged tensor file (a flipped
block, NaN written over weights) is refused naming the file. The safetensors header is checked
against the file's real size and :data:`MAX_TENSOR_BYTES` before anything is allocated, and the
hash is checked (streamed) before any tensor is read. Writes go to a temporary file in the same
directory and are renamed into place, so a run killed mid-write never leaves a half file behind
(at worst an ignored ``.NAME.*.tmp``); JSON is written strictly (no ``NaN`` literal).
:func:`write_tensors` is the one writer: it streams tensors given piece by piece, so a file
larger than memory can be written; :func:`save_tensors` hands it whole tensors.

:func:`import_torch_state_dict` is the one explicit door for ``torch.save`` files a user
trusts: it reads them with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import pickle
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import load_file as st_load_file

FORMAT_VERSION = 2
SUFFIXES = (".safetensors", ".json")
_SAVE_ID = "leapfactual_save_id"
MAX_HEADER_BYTES = 100 * 2**20
"""Largest safetensors JSON header read (the safetensors library's own limit)."""
MAX_TENSOR_BYTES = 64 * 2**30
"""Largest total tensor size a file may declare (64 GiB); larger ones are refused unread."""
MAX_SIDECAR_BYTES = 64 * 2**20
"""Largest JSON sidecar read."""
RESERVED_META = ("format_version", "save_id", "sha256", "tensors")
"""Sidecar keys the writer sets itself; a caller's ``meta`` may not hold them (but the
``format_version`` the writer writes, as a loaded sidecar's meta holds it)."""
DTYPES = {
    "BOOL": (1, "torch.bool"), "U8": (1, "torch.uint8"), "I8": (1, "torch.int8"),
    "F8_E4M3": (1, "torch.float8_e4m3fn"), "F8_E5M2": (1, "torch.float8_e5m2"),
    "I16": (2, "torch.int16"), "U16": (2, "torch.uint16"), "F16": (2, "torch.float16"),
    "BF16": (2, "torch.bfloat16"), "I32": (4, "torch.int32"), "U32": (4, "torch.uint32"),
    "F32": (4, "torch.float32"), "I64": (8, "torch.int64"), "U64": (8, "torch.uint64"),
    "F64": (8, "torch.float64"),
}  # fmt: skip
"""Bytes per element and torch dtype of each safetensors dtype."""
_ST_DTYPE = {
    getattr(torch, name.removeprefix("torch.")): key
    for key, (_, name) in DTYPES.items()
    if hasattr(torch, name.removeprefix("torch."))
}
"""The safetensors name of each torch dtype."""


class CheckpointError(ValueError):
    """A stored file is missing, unreadable, unsafe or inconsistent with its sidecar."""


@functools.cache
def _umask() -> int:
    """The process umask, read once: from /proc where there is one (reading it there changes
    nothing), else by setting and restoring it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary file to write ``path`` through: a temporary file in the same directory,
    synced and renamed into place when the block ends, removed if it raises."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; honour the user's umask
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename."""
    with atomic_file(path) as handle:
        handle.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def json_text(value: Any, where: str | os.PathLike[str], **options: Any) -> str:
    """``value`` as strict JSON (``allow_nan=False``, extra ``json.dumps`` ``options``); a NaN
    or infinity raises a ``ValueError`` naming ``where`` it was to go and its key path."""
    try:
        return json.dumps(value, allow_nan=False, **options)
    except ValueError as err:
        key = non_finite_key(value)
        if key is None:
            raise
        raise ValueError(
            f"cannot write {where}: {key or 'the value'} is not a finite number (JSON has no "
            "NaN or infinity); find where it became non-finite and fix that input"
        ) from err


def write_json(path: str | os.PathLike[str], value: Any, **options: Any) -> None:
    """Write ``value`` to ``path`` atomically as strict JSON (see :func:`json_text`)."""
    atomic_write_text(path, json_text(value, path, **options))


def non_finite_key(value: Any, prefix: str = "") -> str | None:
    """The dotted key path of the first NaN or infinite float in ``value`` (None: none)."""
    if isinstance(value, float) and not math.isfinite(value):
        return prefix
    items: Any = ()
    if isinstance(value, Mapping):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    for key, item in items:
        path = f"{prefix}.{key}" if isinstance(key, str) else f"{prefix}[{key}]"
        found = non_finite_key(item, path.lstrip("."))
        if found is not None:
            return found
    return None


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes (read in blocks: memory stays flat)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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


TensorLayout = Mapping[str, tuple[torch.dtype, tuple[int, ...]]]
"""Dtype and shape of each tensor of a file, by name."""


def save_tensors(
    path: str | os.PathLike[str], tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> Path:
    """Save ``tensors`` as safetensors and ``meta`` as a JSON sidecar next to it.

    ``path`` may name either file or their common stem. The sidecar records the tensor names,
    shapes and dtypes and the SHA-256 of the tensor file, and both files a random save id, so
    that a mismatched pair or a damaged tensor file is detected on load. ``meta`` must be
    strict JSON (no NaN or infinity). Returns the tensor file. (:func:`write_tensors` with
    every tensor in one piece.)
    """
    layout = {k: (v.dtype, tuple(v.shape)) for k, v in tensors.items()}
    return write_tensors(path, layout, lambda name: (tensors[name],), meta)


def write_tensors(
    path: str | os.PathLike[str],
    layout: TensorLayout,
    pieces: Callable[[str], Iterable[torch.Tensor]],
    meta: dict[str, Any],
) -> Path:
    """Write a pair like :func:`save_tensors` from tensors given piece by piece: the file of
    tensors whose dtype and shape ``layout`` declares, each the concatenation (along its first
    axis) of the pieces ``pieces(name)`` yields, in order.

    Only one piece is held at a time, so a file larger than memory can be written (a merge of
    shards); the SHA-256 is computed as the bytes go out. A piece of another dtype or row
    shape, or pieces that do not add up to the declared shape, raise a ``ValueError`` naming
    the tensor, and nothing is left behind.
    """
    tensor_path, meta_path = _paths(path)
    _check_meta(meta, meta_path)  # before any tensor is written
    save_id = uuid.uuid4().hex
    order = sorted(layout, key=lambda k: (-layout[k][0].itemsize, k))  # aligned, as safetensors
    digest = hashlib.sha256()
    with atomic_file(tensor_path) as handle:
        for block in _header_blocks(layout, order, save_id):
            digest.update(block)
            handle.write(block)
        for name in order:
            dtype, shape = layout[name]
            rows = 0
            for piece in pieces(name):
                rows += _check_piece(name, piece, dtype, shape)
                data = _little_endian_bytes(piece)
                digest.update(data)
                handle.write(data)
                del piece, data  # released before the next piece is asked for
            if rows != (shape[0] if shape else 1):
                raise ValueError(
                    f"the pieces of tensor {name!r} hold {rows} rows, but its shape is "
                    f"{list(shape)}"
                )
    described = {k: {"shape": list(s), "dtype": str(d)} for k, (d, s) in layout.items()}
    sidecar = {
        "format_version": FORMAT_VERSION,
        "save_id": save_id,
        "sha256": digest.hexdigest(),
        "tensors": described,
        **meta,
    }
    text = json_text(sidecar, meta_path, indent=2, sort_keys=True)
    atomic_write_text(meta_path, text)
    return tensor_path


def _check_meta(meta: dict[str, Any], meta_path: Path) -> None:
    """A ``ValueError`` unless ``meta`` is a dict of strict JSON (no NaN, nothing that JSON
    cannot hold, such as a ``Path`` or a tensor) without a key of :data:`RESERVED_META`."""
    if not isinstance(meta, dict):
        raise ValueError(f"the meta of {meta_path} must be a dict, got {type(meta).__name__}")
    same_version = meta.get("format_version") == FORMAT_VERSION
    reserved = [
        k for k in RESERVED_META if k in meta and not (k == "format_version" and same_version)
    ]
    if reserved:
        raise ValueError(
            f"cannot write {meta_path}: meta keys {reserved} are the sidecar's own (the file's "
            "hash and tensors); rename them"
        )
    found = _not_json(meta)
    if found is not None:
        key, value = found
        raise ValueError(
            f"cannot write {meta_path}: meta {key or 'itself'} has type {type(value).__name__}, "
            "which JSON cannot hold as it is (keys must be strings; values str, int, float, "
            "bool, None, lists and dicts); convert it (str(path), tensor.tolist(), ...) first"
        )
    json_text(meta, meta_path)  # a NaN or infinity is named


def _not_json(value: Any, prefix: str = "") -> tuple[str, Any] | None:
    """The key path and value of the first part of ``value`` that JSON would not read back
    as it is (a non-string key, a ``Path``, a tensor, a set), or None."""
    if value is None or isinstance(value, str | int | float | bool):
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{prefix}[{key!r}]".lstrip("."), key
            found = _not_json(item, f"{prefix}.{key}")
            if found is not None:
                return found
        return None
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = _not_json(item, f"{prefix}[{i}]")
            if found is not None:
                return found
        return None
    return prefix.lstrip("."), value


def _header_blocks(layout: TensorLayout, order: list[str], save_id: str) -> tuple[bytes, bytes]:
    """The safetensors header of ``layout`` with the tensors in ``order``: its size (8 bytes,
    little-endian) and its JSON, padded with spaces so that the tensors start 8-byte aligned."""
    header: dict[str, Any] = {"__metadata__": {_SAVE_ID: save_id}}
    offset = 0
    for name in order:
        dtype, shape = layout[name]
        end = offset + math.prod(shape) * dtype.itemsize
        header[name] = {
            "dtype": _ST_DTYPE[dtype],
            "shape": list(shape),
            "data_offsets": [offset, end],
        }
        offset = end
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    return len(raw).to_bytes(8, "little"), raw


def _check_piece(name: str, piece: torch.Tensor, dtype: torch.dtype, shape: tuple[int, ...]) -> int:
    """The rows of one piece of tensor ``name`` (1 for a scalar), checked against its layout."""
    fits = piece.dtype == dtype and (
        tuple(piece.shape[1:]) == shape[1:] and piece.dim() > 0 if shape else piece.dim() == 0
    )
    if not fits:
        raise ValueError(
            f"a piece of tensor {name!r} is {piece.dtype} {list(piece.shape)}; tensor {name!r} "
            f"is {dtype} {list(shape)}, so its pieces must be {dtype} [rows, *{list(shape[1:])}]"
        )
    return int(piece.shape[0]) if shape else 1


def _little_endian_bytes(tensor: torch.Tensor) -> Any:
    """The bytes of ``tensor`` in row-major order and little-endian (safetensors' layout), as
    a buffer (no copy of a contiguous CPU tensor on a little-endian machine)."""
    flat = tensor.detach().to("cpu").contiguous().reshape(-1)
    data = flat.view(torch.uint8).numpy()
    if sys.byteorder == "big" and tensor.element_size() > 1:
        data = data.reshape(-1, tensor.element_size())[:, ::-1].copy()
    return data


def _read(path: Path, limit: int | None = None) -> bytes:
    try:
        if limit is not None and path.stat().st_size > limit:
            raise CheckpointError(
                f"{path} has {path.stat().st_size:,} bytes, more than a leapfactual file of "
                f"its kind holds ({limit:,}); it is not one. Re-create it."
            )
        return path.read_bytes()
    except OSError as err:
        raise CheckpointError(
            f"cannot read {path} ({err.strerror or err}); check its permissions"
        ) from err


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a finite number")


def parse_json(raw: bytes | str, path: Path) -> Any:
    """Strict JSON of a file at ``path`` (NaN and infinity refused); ``CheckpointError`` names
    the file."""
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise CheckpointError(f"{path} is not valid JSON ({err}). Re-create it.") from err


def _safetensors_header(path: Path) -> dict[str, Any]:
    """The JSON header of a safetensors file, checked against the file's real size and
    :data:`MAX_TENSOR_BYTES` before anything else is read; refuse anything else with what
    it is."""
    try:
        with path.open("rb") as handle:
            head = handle.read(9)
            what = foreign_format(head)
            if what is not None:
                raise _refuse_foreign(path, what)
            if not looks_like_safetensors(head):
                raise CheckpointError(
                    f"{path} is not a safetensors file (it does not start with a safetensors "
                    "header); give the NAME.safetensors file written by leapfactual, or "
                    "re-create it."
                )
            real = os.fstat(handle.fileno()).st_size
            size = int.from_bytes(head[:8], "little")
            if 8 + size > real or size > MAX_HEADER_BYTES:
                raise CheckpointError(
                    f"{path} is truncated: its header announces {size} bytes but the file has "
                    f"{real}; it may be truncated or corrupt (an interrupted copy?), or its "
                    f"header is over the limit of {MAX_HEADER_BYTES:,} bytes. Re-create it."
                )
            handle.seek(8)
            raw = handle.read(size)
    except OSError as err:
        raise CheckpointError(
            f"cannot read {path} ({err.strerror or err}); check its permissions"
        ) from err
    try:
        header = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise CheckpointError(
            f"{path} has a corrupt safetensors header ({err}); it may be truncated or "
            "corrupt. Re-create it."
        ) from err
    if not isinstance(header, dict):
        raise CheckpointError(f"{path} has a corrupt safetensors header; re-create it.")
    _check_extents(path, header, real - 8 - size)
    return header


def _check_extents(path: Path, header: dict[str, Any], body: int) -> None:
    """Every tensor entry is well formed and spans exactly its shape's bytes; the total is
    within :data:`MAX_TENSOR_BYTES` and fills the file's body (``body`` bytes)."""
    total, end = 0, 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        described: dict[str, Any] = entry if isinstance(entry, dict) else {}
        shape: Any = described.get("shape")
        span: Any = described.get("data_offsets")
        dtype: Any = described.get("dtype")
        if not (
            dtype in DTYPES
            and _naturals(shape)
            and _naturals(span)
            and len(span) == 2
            and span[0] <= span[1]
            and span[1] - span[0] == math.prod(shape) * DTYPES[dtype][0]
        ):
            raise CheckpointError(
                f"{path} has a corrupt safetensors header (tensor {name!r}: dtype, shape and "
                "byte range do not agree); re-create it."
            )
        total += span[1] - span[0]
        end = max(end, span[1])
    if total > MAX_TENSOR_BYTES:
        raise CheckpointError(
            f"{path} declares {total:,} bytes of tensors, over the limit of "
            f"{MAX_TENSOR_BYTES:,} (leapfactual.io.files.MAX_TENSOR_BYTES); refusing to read it"
        )
    if end != body or total != body:
        raise CheckpointError(
            f"{path} is truncated or corrupt: its header declares {end:,} bytes of tensor data "
            f"but the file holds {body:,} (an interrupted copy?). Re-create it."
        )


def _naturals(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value
    )


def check_tensors(path: str | os.PathLike[str]) -> tuple[Path, dict[str, Any]]:
    """Check a pair written by :func:`save_tensors` without reading its tensors: both files
    exist, the header fits the file, the sidecar describes it, and the tensor file has the
    SHA-256 the sidecar recorded. Returns the tensor file and the sidecar; raises
    :class:`CheckpointError` naming the file at fault."""
    tensor_path, meta_path = _paths(path, reading=True)
    for p in (tensor_path, meta_path):
        if not p.is_file():
            raise CheckpointError(
                f"{p} does not exist: a leapfactual checkpoint is a pair "
                f"'{tensor_path.name}' + '{meta_path.name}'. Check the path."
            )
    header = _safetensors_header(tensor_path)
    meta = read_sidecar(meta_path)
    _check_pair(tensor_path, meta_path, meta, header)
    if _sha256(tensor_path) != meta["sha256"]:
        raise CheckpointError(
            f"{tensor_path} does not have the SHA-256 recorded in {meta_path.name} when it was "
            "written: the file is damaged or was changed since. Restore it or re-create it."
        )
    return tensor_path, meta


def read_sidecar(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The sidecar of a pair (either file or the stem), parsed and checked to be one: a JSON
    object with a ``tensors`` entry and the tensor file's ``sha256``. Reads only the sidecar."""
    _, meta_path = _paths(path)
    if not meta_path.is_file():
        raise CheckpointError(f"{meta_path} does not exist; check the path")
    meta = parse_json(_read(meta_path, MAX_SIDECAR_BYTES), meta_path)
    if not isinstance(meta, dict) or not isinstance(meta.get("tensors", {}), dict):
        raise CheckpointError(
            f"{meta_path} is not a leapfactual sidecar (a JSON object with a 'tensors' "
            "entry). Re-create the pair."
        )
    if not isinstance(meta.get("sha256"), str):
        raise CheckpointError(
            f"{meta_path} records no SHA-256 of its tensor file (written by an older "
            "leapfactual?), so its content cannot be checked. Re-create the pair."
        )
    return meta


def _sha256(path: Path) -> str:
    try:
        return file_sha256(path)
    except OSError as err:
        raise CheckpointError(
            f"cannot read {path} ({err.strerror or err}); check its permissions"
        ) from err


def load_tensors(
    path: str | os.PathLike[str], device: str | torch.device = "cpu"
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load a pair written by :func:`save_tensors`, checked first by :func:`check_tensors`;
    raise :class:`CheckpointError` on any fault."""
    tensor_path, meta = check_tensors(path)
    try:
        tensors = st_load_file(tensor_path, backend="pread")  # owned memory, not a mapping
    except (SafetensorError, ValueError, OSError) as err:
        raise CheckpointError(
            f"{tensor_path} is not a readable safetensors file ({err}); it may be truncated "
            "or corrupt. Re-create it."
        ) from err
    return {k: v.to(device) for k, v in tensors.items()}, meta


def _check_pair(
    tensor_path: Path, meta_path: Path, meta: dict[str, Any], header: dict[str, Any]
) -> None:
    expected = meta.get("tensors", {})
    stored = header.get("__metadata__")
    stored_id = stored.get(_SAVE_ID) if isinstance(stored, dict) else None
    same_id = "save_id" not in meta or stored_id == meta["save_id"]
    found = {k: v for k, v in header.items() if k != "__metadata__"}
    try:
        described = set(expected) == set(found) and all(
            found[k]["shape"] == expected[k]["shape"]
            and DTYPES[found[k]["dtype"]][1]
            == expected[k].get("dtype", DTYPES[found[k]["dtype"]][1])
            for k in found
        )
    except (KeyError, TypeError, AttributeError):
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
