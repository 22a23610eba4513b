"""Writers for tiny data files in the formats the loaders read, independent of the loaders."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

IDX_CODES = {np.dtype("uint8"): 0x08, np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D}


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> Path:
    """Write ``array`` in the IDX format, independently of the reader under test."""
    array = np.ascontiguousarray(array)
    header = struct.pack(">BBBB", 0, 0, IDX_CODES[array.dtype], array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def idx_arrays(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random 6x5 uint8 images and labels 0, 1, 2, 0, ... (uint8)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(count, 6, 5), dtype=np.uint8)
    labels = (np.arange(count) % 3).astype(np.uint8)
    return images, labels


def write_galaxy10(path: Path, images: np.ndarray, labels: np.ndarray, **extra: np.ndarray) -> Path:
    """A Galaxy10-style HDF5 file: ``images`` [N, H, W, 3] uint8 and ``ans`` [N]."""
    import h5py

    with h5py.File(path, "w") as handle:
        handle.create_dataset("images", data=images)
        handle.create_dataset("ans", data=labels)
        for key, value in extra.items():
            handle.create_dataset(key, data=value)
    return path
