"""Content integrity and hostile sizes: SHA-256 in the sidecar, headers checked before reading,
strict JSON, module shapes checked before allocating."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from leapfactual.io import (
    CheckpointError,
    check_tensors,
    load_module,
    load_tensors,
    save_module,
    save_tensors,
    write_json,
)
from leapfactual.io import files as io_files
from leapfactual.models import ConvVAE


def _pair(tmp_path: Path) -> Path:
    return save_tensors(tmp_path / "w", {"w": torch.arange(4096.0), "b": torch.ones(3)}, {})


def test_the_sidecar_records_the_tensor_files_sha256(tmp_path: Path) -> None:
    path = _pair(tmp_path)
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["sha256"] == io_files.file_sha256(path)
    assert check_tensors(path)[1]["sha256"] == meta["sha256"]


def test_a_flipped_block_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = _pair(tmp_path)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 64] = bytes(64)  # structure intact, content not
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=r"w\.safetensors does not have the SHA-256"):
        load_tensors(path)


def test_nan_written_over_weights_is_refused(tmp_path: Path) -> None:
    path = _pair(tmp_path)
    raw = bytearray(path.read_bytes())
    nan = torch.tensor([math.nan], dtype=torch.float32).numpy().tobytes()
    raw[-8:-4] = nan
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="damaged or was changed"):
        load_tensors(path)


def test_a_sidecar_without_a_hash_is_refused(tmp_path: Path) -> None:
    path = _pair(tmp_path)
    sidecar = path.with_suffix(".json")
    meta = json.loads(sidecar.read_text())
    del meta["sha256"]
    sidecar.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="records no SHA-256"):
        load_tensors(path)


def test_a_declared_size_over_the_limit_is_refused_unread(tmp_path: Path, monkeypatch) -> None:
    path = _pair(tmp_path)
    monkeypatch.setattr(io_files, "MAX_TENSOR_BYTES", 1000)
    monkeypatch.setattr(io_files, "file_sha256", _never)
    with pytest.raises(CheckpointError, match=r"declares 16,396 bytes .*over the limit of 1,000"):
        load_tensors(path)


def _never(path: object) -> str:
    raise AssertionError("the body was read")


def _header_file(path: Path, header: dict[str, object], body: int) -> Path:
    raw = json.dumps(header).encode()
    path.write_bytes(len(raw).to_bytes(8, "little") + raw)
    with path.open("r+b") as handle:  # sparse: costs no disk
        handle.truncate(8 + len(raw) + body)
    return path


def test_a_header_bigger_than_the_file_is_refused_before_reading(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(io_files, "file_sha256", _never)
    base = _pair(tmp_path)
    header = {"w": {"dtype": "F32", "shape": [2**28], "data_offsets": [0, 2**30]}}
    _header_file(base, header, 16)  # claims 1 GiB, holds 16 bytes
    with pytest.raises(CheckpointError, match="truncated or corrupt: its header declares"):
        load_tensors(base)
    header = {"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 1 << 20]}}
    _header_file(base, header, 1 << 20)  # a span that is not the shape's size
    with pytest.raises(CheckpointError, match="tensor 'w': dtype, shape and byte range"):
        load_tensors(base)


def test_a_sparse_file_of_the_right_size_is_refused_by_its_hash(tmp_path: Path) -> None:
    base = _pair(tmp_path)
    n = 1 << 22  # 16 MiB of zeros, no memory taken before the refusal
    _header_file(base, {"w": {"dtype": "F32", "shape": [n], "data_offsets": [0, 4 * n]}}, 4 * n)
    with pytest.raises(CheckpointError):
        load_tensors(base)


def test_json_is_written_strictly_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"cannot write .*x\.json: cost\.seconds is not a finite"):
        write_json(tmp_path / "x.json", {"cost": {"seconds": math.inf}})
    with pytest.raises(ValueError, match=r"config\.gamma\[1\] is not a finite"):
        save_tensors(tmp_path / "y", {"w": torch.ones(1)}, {"config": {"gamma": [1.0, math.nan]}})
    assert not list(tmp_path.iterdir())


def test_a_sidecar_with_a_nan_literal_is_refused(tmp_path: Path) -> None:
    path = _pair(tmp_path)
    sidecar = path.with_suffix(".json")
    sidecar.write_text(sidecar.read_text().replace('"format_version": 2', '"format_version": NaN'))
    with pytest.raises(CheckpointError, match=r"w\.json is not valid JSON .*NaN"):
        load_tensors(path)


def test_a_sidecar_asking_for_a_huge_model_is_refused_before_allocating(tmp_path: Path) -> None:
    stem = tmp_path / "vae"
    save_module(ConvVAE(latent_dim=4, width=4), stem)
    meta = json.loads(stem.with_suffix(".json").read_text())
    meta["config"]["latent_dim"] = 10**12  # a real allocation would need terabytes
    stem.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="the weights do not fit the stored ConvVAE"):
        load_module(stem)
