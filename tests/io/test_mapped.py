"""TensorFile: checked once, read by rows on demand; write_tensors: a file from pieces."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from leapfactual.io import CheckpointError, TensorFile, load_tensors, save_tensors, write_tensors

TENSORS = {
    "a": torch.randn(10, 3, generator=torch.Generator().manual_seed(0)),
    "b": torch.arange(10),
    "flag": torch.arange(10) % 3 == 0,
    "half": torch.randn(10, 2).to(torch.bfloat16),
}


def pick(value: torch.Tensor, rows) -> torch.Tensor:
    if isinstance(rows, slice):
        return value[torch.arange(*rows.indices(len(value)))]
    return value[torch.as_tensor(rows, dtype=None if len(rows) else torch.long)]


@pytest.mark.parametrize(
    "rows",
    [slice(2, 5), slice(None, None, 3), slice(8, 2, -2), [7, 1, 2, 2, 9], [-1], [], "mask"],
)
def test_rows_read_on_demand_equal_the_full_load(tmp_path: Path, rows) -> None:
    save_tensors(tmp_path / "t", TENSORS, {})
    full, _ = load_tensors(tmp_path / "t")
    file = TensorFile(tmp_path / "t")
    rows = (full["b"] % 2 == 0).tolist() if rows == "mask" else rows
    for name, value in full.items():
        got = file.read(name, rows)
        assert got.dtype == value.dtype and torch.equal(got, pick(value, rows)), name
        assert torch.equal(file.read(name), value)
    assert file.layout["half"] == (torch.bfloat16, (10, 2))


def test_a_damaged_file_is_refused_when_opened(tmp_path: Path) -> None:
    path = save_tensors(tmp_path / "t", TENSORS, {})
    raw = bytearray(path.read_bytes())
    raw[-8:] = bytes(8)
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="SHA-256"):
        TensorFile(tmp_path / "t")


def test_a_file_changed_after_it_was_checked_is_refused(tmp_path: Path) -> None:
    path = save_tensors(tmp_path / "t", TENSORS, {})
    file = TensorFile(path)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    with pytest.raises(CheckpointError, match="changed after it was checked"):
        file.read("a", slice(0, 2))
    with pytest.raises(KeyError, match="no tensor 'nope'"):
        TensorFile(path).read("nope")


def test_a_file_written_in_pieces_equals_one_saved_whole(tmp_path: Path) -> None:
    layout = {k: (v.dtype, tuple(v.shape)) for k, v in TENSORS.items()}
    asked: list[str] = []

    def pieces(name: str):
        asked.append(name)
        return (TENSORS[name][i : i + 4] for i in range(0, 10, 4))

    path = write_tensors(tmp_path / "p", layout, pieces, {"kind": "test"})
    back, meta = load_tensors(tmp_path / "p")
    assert sorted(asked) == sorted(TENSORS) and meta["kind"] == "test"
    assert all(torch.equal(back[k], v) for k, v in TENSORS.items())
    assert all(torch.equal(load_file(path)[k], v) for k, v in TENSORS.items())  # safetensors too


def test_pieces_that_do_not_fit_are_refused_and_leave_nothing(tmp_path: Path) -> None:
    layout = {"a": (torch.float32, (10, 3))}
    with pytest.raises(ValueError, match=r"pieces of tensor 'a' hold 4 rows"):
        write_tensors(tmp_path / "p", layout, lambda name: (TENSORS["a"][:4],), {})
    with pytest.raises(ValueError, match=r"a piece of tensor 'a' is torch.float64"):
        write_tensors(tmp_path / "p", layout, lambda name: (TENSORS["a"].double(),), {})
    with pytest.raises(ValueError, match=r"a piece of tensor 'a' is torch.float32 \[10, 2\]"):
        write_tensors(tmp_path / "p", layout, lambda name: (TENSORS["a"][:, :2],), {})
    assert list(tmp_path.iterdir()) == []
