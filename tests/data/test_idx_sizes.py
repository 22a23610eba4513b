"""IDX headers are checked against the file's size and a stated limit before data is read."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from leapfactual.data import idx
from leapfactual.data.idx import read_idx


def _idx(dims: tuple[int, ...], data: bytes) -> bytes:
    return bytes([0, 0, 0x08, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + data


def test_a_raw_file_shorter_than_its_header_says_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x-idx1-ubyte"
    path.write_bytes(_idx((10,), bytes(4)))
    with pytest.raises(ValueError, match=r"holds 4 data bytes but its header \[10\] needs 10"):
        read_idx(path)


def test_a_declared_size_over_the_limit_is_refused_unread(tmp_path: Path) -> None:
    huge = (60_000, 4096, 4096)  # 1 TB declared in a few bytes
    path = tmp_path / "bomb.gz"
    path.write_bytes(gzip.compress(_idx(huge, bytes(1 << 20))))
    with pytest.raises(
        ValueError, match=r"declares \[60000, 4096, 4096\] values .* over the limit"
    ):
        read_idx(path)


def test_a_gzip_file_is_decompressed_only_up_to_its_declared_size(tmp_path: Path) -> None:
    path = tmp_path / "more.gz"
    packed = gzip.compress(_idx((4,), bytes(64 << 20)))  # 64 MiB behind a [4] header
    path.write_bytes(packed)
    with pytest.raises(ValueError, match=r"damaged gzip file, or not the IDX file .*\[4\] values"):
        read_idx(path)  # its trailer tells, before anything is decompressed
    path.write_bytes(packed[:-4] + (12).to_bytes(4, "little"))  # a trailer that agrees
    reads: list[int] = []
    real = gzip.GzipFile.read

    def counted(self: gzip.GzipFile, size: int = -1) -> bytes:
        reads.append(size)
        return real(self, size)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(gzip.GzipFile, "read", counted)
        with pytest.raises(ValueError, match=r"holds more data bytes but its header \[4\] needs 4"):
            read_idx(path)
    assert max(reads) <= 5 and -1 not in reads


def test_a_good_gzip_file_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "ok.gz"
    path.write_bytes(gzip.compress(_idx((2, 3), bytes(range(6)))))
    assert np.array_equal(read_idx(path), np.arange(6, dtype=np.uint8).reshape(2, 3))
    assert idx.MAX_IDX_BYTES == 8 * 2**30
