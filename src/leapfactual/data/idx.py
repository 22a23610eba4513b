"""MNIST-format IDX files: a small reader of our own, and loaders for IDX datasets.

The IDX format (http://yann.lecun.com/exdb/mnist/) is a 4-byte magic number (two zero bytes,
a type code, the number of dimensions), one big-endian uint32 per dimension, then the data in
big-endian order. Files may be gzip-compressed; compression is detected from the content, not
the name. MNIST, Fashion-MNIST, KMNIST and Morpho-MNIST all ship in this format.
"""

from __future__ import annotations

import gzip
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


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one IDX file (raw or gzip) into a native-byte-order numpy array."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; check the path to the IDX file")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as err:
            raise ValueError(f"{path} is a damaged gzip file ({err}); download it again") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _TYPES:
        raise ValueError(
            f"{path} is not an IDX file (its first bytes are {raw[:4].hex()}, an IDX file "
            "starts with 0000 then a type code 08-0e)"
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path} is truncated: its header is cut short")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_TYPES[raw[2]])
    expected = math.prod(dims) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{path} holds {len(raw) - header} data bytes but its header {list(dims)} needs "
            f"{expected}; the file is truncated or corrupt, download it again"
        )
    data = np.frombuffer(raw, dtype=dtype, count=math.prod(dims), offset=header)
    return data.reshape(dims).astype(dtype.newbyteorder("="), copy=True)


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
