"""A checked tensor file whose tensors are read on demand, whole or by rows.

:class:`TensorFile` checks a pair written by :func:`~leapfactual.io.files.save_tensors` once
(header, sidecar, SHA-256 streamed: see :func:`~leapfactual.io.files.check_tensors`), then
reads tensors or some of their rows through safetensors' memory-mapped reader: only the rows
asked for are copied into memory, so a file larger than memory can be used. Each read checks
that the file is still the one that was checked (same inode, size and modification time).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open

from leapfactual.io.files import CheckpointError, TensorLayout, check_tensors

Rows = slice | Sequence[int] | torch.Tensor
"""Rows of a tensor: a slice, indices (any order, repeats allowed) or a boolean mask."""


class TensorFile:
    """The tensors of a pair written by :func:`~leapfactual.io.files.save_tensors`, checked
    when opened (a damaged, truncated or mismatched pair raises
    :class:`~leapfactual.io.files.CheckpointError` naming the file) and read on demand.

    Attributes:
        path: the tensor file.
        meta: its sidecar.
        layout: dtype and shape of each tensor, by name.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path, self.meta = check_tensors(path)
        self._stamp = _stamp(self.path)
        self.layout: TensorLayout = {
            name: (_torch_dtype(entry.get("dtype"), self.path), tuple(entry["shape"]))
            for name, entry in self.meta["tensors"].items()
        }

    def read(self, name: str, rows: Rows | None = None) -> torch.Tensor:
        """Tensor ``name`` (all of it, or its ``rows``) in memory of its own. A row index out
        of range raises an ``IndexError``."""
        if name not in self.layout:
            raise KeyError(f"{self.path} holds no tensor {name!r} (it holds {list(self.layout)})")
        if _stamp(self.path) != self._stamp:
            raise CheckpointError(
                f"{self.path} was changed after it was checked; open it again (and make sure "
                "no other job writes it)"
            )
        try:
            with safe_open(str(self.path), framework="pt") as handle:
                if rows is None:
                    return handle.get_tensor(name).clone()  # owned: the mapping is released
                return _rows(handle.get_slice(name), self.layout[name][1], rows)
        except SafetensorError as err:
            raise CheckpointError(f"cannot read {name!r} from {self.path} ({err})") from err


def _rows(part: Any, shape: tuple[int, ...], rows: Rows) -> torch.Tensor:
    """The ``rows`` of a tensor of ``shape`` read from a safetensors slice ``part``: each run
    of consecutive rows in one read, then put in the order asked for."""
    if not shape:
        raise IndexError("a scalar tensor has no rows")
    index = _index(rows, shape[0])
    if index.numel() == 0:
        return part[0:0].clone()
    unique, order = torch.unique(index, sorted=True, return_inverse=True)
    breaks = (torch.diff(unique) != 1).nonzero().flatten() + 1
    starts = torch.cat([unique[:1], unique[breaks]]).tolist()
    ends = torch.cat([unique[breaks - 1], unique[-1:]]).tolist()
    runs = [part[start : end + 1] for start, end in zip(starts, ends, strict=True)]
    data = runs[0].clone() if len(runs) == 1 else torch.cat(runs)
    return data if torch.equal(unique, index) else data[order]


def _index(rows: Rows, n: int) -> torch.Tensor:
    """``rows`` of ``n`` as a 1-D tensor of indices (negative ones counted from the end)."""
    if isinstance(rows, slice):
        return torch.arange(*rows.indices(n))
    picked = rows if isinstance(rows, torch.Tensor) else torch.as_tensor(list(rows))
    picked = picked if picked.numel() else picked.long()  # [] is a float tensor
    return torch.arange(n)[picked].reshape(-1)


def _stamp(path: Path) -> tuple[int, int, int, int]:
    """What identifies a file's content without reading it: device, inode, size, mtime."""
    try:
        info = path.stat()
    except OSError as err:
        raise CheckpointError(f"cannot read {path} ({err.strerror or err})") from err
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns


def _torch_dtype(name: Any, path: Path) -> torch.dtype:
    """The torch dtype a sidecar names (``"torch.float32"``)."""
    dtype = getattr(torch, str(name).removeprefix("torch."), None)
    if not isinstance(dtype, torch.dtype):
        raise CheckpointError(
            f"the sidecar of {path} names no known dtype ({name!r}); re-create the pair"
        )
    return dtype
