import pickle

import pytest
import torch

from leapfactual.io import CheckpointError, load_tensors, save_tensors


def test_round_trip_is_exact(tmp_path) -> None:
    tensors = {"a": torch.randn(3, 4), "b": torch.arange(5)}
    save_tensors(tmp_path / "x", tensors, {"note": "hi"})
    loaded, meta = load_tensors(tmp_path / "x.safetensors")
    assert meta["note"] == "hi"
    assert all(torch.equal(tensors[k], loaded[k]) for k in tensors)


def test_no_temporary_files_are_left(tmp_path) -> None:
    save_tensors(tmp_path / "x", {"a": torch.zeros(2)}, {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json", "x.safetensors"]


def test_pickle_is_refused_without_unpickling(tmp_path) -> None:
    (tmp_path / "x.safetensors").write_bytes(pickle.dumps({"a": 1}, protocol=2))
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(CheckpointError, match="pickle"):
        load_tensors(tmp_path / "x")


def test_truncated_file_is_named(tmp_path) -> None:
    save_tensors(tmp_path / "x", {"a": torch.zeros(100)}, {})
    data = (tmp_path / "x.safetensors").read_bytes()
    (tmp_path / "x.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_tensors(tmp_path / "x")


def test_mismatched_sidecar_is_named(tmp_path) -> None:
    save_tensors(tmp_path / "x", {"a": torch.zeros(2)}, {})
    sidecar = (tmp_path / "x.json").read_text()
    save_tensors(tmp_path / "x", {"a": torch.zeros(3)}, {})
    (tmp_path / "x.json").write_text(sidecar)
    with pytest.raises(CheckpointError, match="different saves"):
        load_tensors(tmp_path / "x")


def test_missing_file_is_named(tmp_path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        load_tensors(tmp_path / "nothing")
