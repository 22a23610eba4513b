"""Fixtures: tiny data files in the formats the loaders read, written by the tests themselves."""

from __future__ import annotations

from pathlib import Path

import pytest

from .files import idx_arrays, write_idx


@pytest.fixture
def idx_dir(tmp_path: Path) -> Path:
    """An MNIST-style directory: 12 train (gzipped) and 6 test (raw) 6x5 images, 3 classes."""
    root = tmp_path / "tiny-mnist"
    root.mkdir()
    for prefix, count, compress in (("train", 12, True), ("t10k", 6, False)):
        images, labels = idx_arrays(count, seed=count)
        suffix = ".gz" if compress else ""
        write_idx(root / f"{prefix}-images-idx3-ubyte{suffix}", images, compress)
        write_idx(root / f"{prefix}-labels-idx1-ubyte{suffix}", labels, compress)
    return root
