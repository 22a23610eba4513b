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


def test_meta_must_be_json_without_the_sidecars_own_keys(tmp_path) -> None:
    from pathlib import Path

    for meta, says in (
        ({"sha256": "0" * 64}, r"meta keys \['sha256'\] are the sidecar's own"),
        ({"tensors": {}, "save_id": "x"}, r"meta keys \['save_id', 'tensors'\]"),
        ({"format_version": 99}, r"meta keys \['format_version'\]"),
        ({"where": Path("a")}, r"meta where has type PosixPath, which JSON cannot hold"),
        ({"a": {"b": [1, torch.ones(1)]}}, r"meta a\.b\[1\] has type Tensor"),
        ({"a": {1: "x"}}, r"meta a\[1\] has type int"),
        ({"loss": float("nan")}, r"NaN"),
        ([1, 2], r"must be a dict, got list"),
    ):
        with pytest.raises(ValueError, match=says):
            save_tensors(tmp_path / "x", {"a": torch.zeros(2)}, meta)  # type: ignore[arg-type]
        assert list(tmp_path.iterdir()) == []  # refused before anything is written
    meta = {"nested": {"list": [1, 2.5, None, True, "s"]}, "pair": (1, 2)}
    save_tensors(tmp_path / "x", {"a": torch.zeros(2)}, meta)
    loaded = load_tensors(tmp_path / "x")[1]
    assert loaded["nested"] == meta["nested"] and loaded["pair"] == [1, 2]
    again = {k: v for k, v in loaded.items() if k not in ("tensors", "save_id", "sha256")}
    save_tensors(tmp_path / "x", {"a": torch.zeros(2)}, again)  # its own format_version: fine
