"""MNIST-format IDX files: a small reader of our own, and loaders for IDX datasets.

The IDX format (http://yann.lecun.com/exdb/mnist/) is a 4-byte magic number (two zero bytes,
a type code, the number of dimensions), one big-endian uint32 per dimension, then the data in
big-endian order. Files may be gzip-compressed; compression is detected from the content, not
the name. MNIST, Fashion-MNIST, KMNIST and Morpho-MNIST all ship in this format.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import struct
import zlib
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from leapfactual.data.classes import FASHION_MNIST_CLASSES
from leapfactual.data.dataset import Dataset, images_from_uint8

Split = Literal["train", "test", "all"]

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
"""Where the Debian package ``dataset-fashion-mnist`` installs Fashion-MNIST."""

_TYPES: dict[int, str] = {
    0x08: "u1",
    0x09: "i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}
_PREFIXES: dict[str, tuple[str, ...]] = {
    "train": ("train",),
    "test": ("t10k",),
    "all": ("train", "t10k"),
}


MAX_IDX_BYTES = 8 * 2**30
"""Largest data size an IDX header may declare (8 GiB); larger ones are refused unread."""


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one IDX file (raw or gzip) into a native-byte-order numpy array.

    The header's declared size is checked against :data:`MAX_IDX_BYTES` and, for a raw file,
    the file's real size (a gzip file: the decompressed size its trailer records) before the
    data is read; a gzip file is decompressed only up to the declared size (plus one byte, to
    tell a file with more data), never all of it first.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; check the path to the IDX file")
    with path.open("rb") as raw_handle:
        packed = raw_handle.read(2) == b"\x1f\x8b"
        size = os.fstat(raw_handle.fileno()).st_size
        if packed and size >= 4:  # the gzip trailer: the decompressed size, modulo 2**32
            raw_handle.seek(-4, os.SEEK_END)
            unpacked = int.from_bytes(raw_handle.read(4), "little")
        raw_handle.seek(0)
        handle: io.BufferedIOBase = gzip.GzipFile(fileobj=raw_handle) if packed else raw_handle
        try:
            return _read_idx(path, handle, size, unpacked if packed and size >= 4 else None)
        except (EOFError, OSError, zlib.error) as err:
            if not packed:
                raise
            raise ValueError(f"{path} is a damaged gzip file ({err}); download it again") from err


def _read_idx(path: Path, handle: io.BufferedIOBase, size: int, unpacked: int | None) -> np.ndarray:
    """The array of an open IDX file of ``size`` bytes (``unpacked``: the decompressed size
    modulo 2**32 a gzip file's trailer records, None for a raw file)."""
    magic = handle.read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _TYPES:
        raise ValueError(
            f"{path} is not an IDX file (its first bytes are {magic.hex()}, an IDX file "
            "starts with 0000 then a type code 08-0e)"
        )
    ndim = magic[3]
    packed_dims = handle.read(4 * ndim)
    if len(packed_dims) < 4 * ndim:
        raise ValueError(f"{path} is truncated: its header is cut short")
    dims = struct.unpack(f">{ndim}I", packed_dims)
    dtype = np.dtype(_TYPES[magic[2]])
    expected = math.prod(dims) * dtype.itemsize
    if expected > MAX_IDX_BYTES:
        raise ValueError(
            f"{path} declares {list(dims)} values ({expected:,} bytes), over the limit of "
            f"{MAX_IDX_BYTES:,} (leapfactual.data.idx.MAX_IDX_BYTES); refusing to read it"
        )
    if unpacked is not None and (4 + 4 * ndim + expected) % 2**32 != unpacked:
        raise ValueError(
            f"{path} is a damaged gzip file, or not the IDX file its header declares "
            f"({list(dims)} values, {expected:,} bytes, but its gzip trailer records "
            f"{unpacked:,} decompressed bytes, modulo 2**32); download it again"
        )
    held = None if unpacked is not None else size - 4 - 4 * ndim
    if held is not None and held != expected:
        raise ValueError(
            f"{path} holds {held} data bytes but its header {list(dims)} needs "
            f"{expected}; the file is truncated or corrupt, download it again"
        )
    data = handle.read(expected + 1)
    if len(data) != expected:
        raise ValueError(
            f"{path} holds {'more' if len(data) > expected else len(data)} data bytes but its "
            f"header {list(dims)} needs {expected}; the file is truncated or corrupt, download "
            "it again"
        )
    array = np.frombuffer(data, dtype=dtype, count=math.prod(dims))
    return array.reshape(dims).astype(dtype.newbyteorder("="), copy=True)


def load_idx(
    directory: str | os.PathLike[str],
    split: Split = "train",
    class_names: list[str] | None = None,
    name: str | None = None,
) -> Dataset:
    """Load MNIST-format IDX files from ``directory``.

    Reads ``train-images-idx3-ubyte`` / ``train-labels-idx1-ubyte`` (``split="train"``), the
    ``t10k-`` pair (``"test"``) or both, train first (``"all"``); each file may end in ``.gz``
    and ``.idx3-ubyte`` is accepted for ``-idx3-ubyte``. Class names default to the labels as
    text (``"0"``, ``"1"``, ...), which are the MNIST class names.
    """
    return _load_idx(Path(directory).expanduser(), split, class_names, name, hint="")


def load_fashion_mnist(
    directory: str | os.PathLike[str] | None = None, split: Split = "train"
) -> Dataset:
    """Fashion-MNIST (60,000 train + 10,000 test, 28x28 grey) from its IDX files.

    ``directory`` defaults to ``/usr/share/datasets/fashion-mnist``, where the Debian package
    ``dataset-fashion-mnist`` puts them.
    """
    hint = (
        " Install them with 'apt-get install dataset-fashion-mnist' (Debian/Ubuntu), or "
        "download the four IDX files from https://github.com/zalandoresearch/fashion-mnist "
        "and load them with 'fashion-mnist:DIR'."
    )
    path = FASHION_MNIST_DIR if directory is None else Path(directory).expanduser()
    return _load_idx(path, split, list(FASHION_MNIST_CLASSES), "fashion-mnist", hint)


def _load_idx(
    directory: Path, split: str, class_names: list[str] | None, name: str | None, hint: str
) -> Dataset:
    if split not in _PREFIXES:
        raise ValueError(f"split must be one of {sorted(_PREFIXES)}, got {split!r}")
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory} is not a directory of IDX files.{hint}")
    images, labels = [], []
    for prefix in _PREFIXES[split]:
        image_file = _find(directory, prefix, "images", 3, hint)
        label_file = _find(directory, prefix, "labels", 1, hint)
        x, y = read_idx(image_file), read_idx(label_file)
        if x.ndim != 3 or x.dtype != np.uint8:
            raise ValueError(
                f"{image_file} must hold uint8 images [N, H, W], got {x.dtype} {list(x.shape)}"
            )
        if y.ndim != 1 or y.dtype.kind not in "iu":
            raise ValueError(f"{label_file} must hold integer labels [N], got {list(y.shape)}")
        if len(x) != len(y):
            raise ValueError(f"{image_file} has {len(x)} images but {label_file} {len(y)} labels")
        images.append(x)
        labels.append(y)
    if len({x.shape[1:] for x in images}) > 1:
        raise ValueError(f"train and test images in {directory} differ in size")
    label_tensor = torch.from_numpy(np.concatenate(labels).astype(np.int64))
    if class_names is None:
        top = int(label_tensor.max()) if label_tensor.numel() else 0
        class_names = [str(k) for k in range(top + 1)]
    return Dataset(
        images_from_uint8(np.concatenate(images)),
        label_tensor,
        class_names,
        name or directory.name,
    )


def _find(directory: Path, prefix: str, kind: str, dims: int, hint: str) -> Path:
    stems = (f"{prefix}-{kind}-idx{dims}-ubyte", f"{prefix}-{kind}.idx{dims}-ubyte")
    for stem in stems:
        for candidate in (directory / stem, directory / f"{stem}.gz"):
            if candidate.is_file():
                return candidate
    raise FileNotFoundError(
        f"{directory} has no {stems[0]} (or {stems[0]}.gz); an IDX directory holds "
        f"train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
        f"t10k-labels-idx1-ubyte, each optionally gzipped.{hint}"
    )
