"""Loading never runs code; foreign, truncated and mismatched files are refused by name;
writes are atomic even when the writer is killed."""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from leapfactual.flow import MLPField, load_field, save_field
from leapfactual.io import (
    CheckpointError,
    atomic_write_bytes,
    import_torch_state_dict,
    load_module,
    load_tensors,
    save_module,
    save_tensors,
)
from leapfactual.io import files as files_module
from leapfactual.models import CNNClassifier
from leapfactual.pipeline import load_run


class Evil:
    """Unpickling this creates the file ``marker``: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (self.marker, "w"))


def torch_bytes(obj: object, zip_format: bool = True) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=zip_format)
    return buf.getvalue()


def foreign_files(marker: Path) -> dict[str, tuple[bytes, str]]:
    """Name -> (content, what the refusal must say)."""
    evil = {"w": torch.zeros(2), "x": Evil(marker)}
    out = {f"pickle-{p}": (pickle.dumps(evil, protocol=p), "a pickle") for p in (2, 3, 4, 5)}
    out["torch-zip"] = (torch_bytes(evil), "a zip archive")
    out["torch-legacy"] = (torch_bytes(evil, zip_format=False), "a pickle")
    npy = io.BytesIO()
    np.save(npy, np.zeros(3))
    out["npy"] = (npy.getvalue(), "NumPy")
    out["text"] = (b"hello, this is not a tensor file", "not a safetensors file")
    return out


def test_foreign_files_are_refused_without_running_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    for name, (content, says) in foreign_files(marker).items():
        (tmp_path / f"{name}.safetensors").write_bytes(content)
        (tmp_path / f"{name}.json").write_text(json.dumps({"tensors": {}}))
        with pytest.raises(CheckpointError, match=says) as err:
            load_tensors(tmp_path / name)
        if says != "not a safetensors file":
            assert "import_torch_state_dict" in str(err.value), name
    assert not marker.exists()


def test_a_pt_path_is_refused_by_what_it_is(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    (tmp_path / "model.pt").write_bytes(torch_bytes({"x": Evil(marker)}))
    with pytest.raises(CheckpointError, match=r"model.pt is a zip archive.*never unpickles"):
        load_tensors(tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match=r"model\.pt is a zip archive"):
        load_module(tmp_path / "model.pt")
    (tmp_path / "weights.bin").write_bytes(b"\x00" * 32)
    with pytest.raises(CheckpointError, match=r"weights.bin is a '.bin' file"):
        load_tensors(tmp_path / "weights.bin")
    assert not marker.exists()


def test_a_stem_with_dots_keeps_them(tmp_path: Path) -> None:
    path = save_tensors(tmp_path / "model.v2", {"a": torch.ones(2)}, {})
    assert path.name == "model.v2.safetensors"
    assert torch.equal(load_tensors(tmp_path / "model.v2")[0]["a"], torch.ones(2))


def test_a_header_size_that_looks_like_a_pickle_is_still_safetensors(tmp_path: Path) -> None:
    """A 640-byte header starts with 0x80 0x02, the start of a protocol-2 pickle."""
    length = 1
    for _ in range(50):  # grow the tensor name until the header is 640 bytes (0x80 0x02 ...)
        path = save_tensors(tmp_path / "x", {"t" * length: torch.zeros(1)}, {})
        size = int.from_bytes(path.read_bytes()[:8], "little")
        if size == 640:
            break
        length = max(1, length + 640 - size) if size > 640 else length + max(1, 640 - size)
    else:
        pytest.fail("no tensor name gave a header of 640 bytes")
    assert path.read_bytes()[:2] == b"\x80\x02"
    tensors, _ = load_tensors(tmp_path / "x")
    assert list(tensors) == ["t" * length]


def test_tensor_file_and_sidecar_of_different_saves_with_equal_shapes(tmp_path: Path) -> None:
    save_tensors(tmp_path / "x", {"w": torch.zeros(3)}, {"epoch": 1})
    old_sidecar = (tmp_path / "x.json").read_text()
    save_tensors(tmp_path / "x", {"w": torch.ones(3)}, {"epoch": 2})
    (tmp_path / "x.json").write_text(old_sidecar)  # a crash between the two renames
    with pytest.raises(CheckpointError, match=r"save ids differ.*different saves"):
        load_tensors(tmp_path / "x")


def test_sidecar_with_other_dtype_or_not_an_object(tmp_path: Path) -> None:
    save_tensors(tmp_path / "x", {"w": torch.zeros(3)}, {})
    meta = json.loads((tmp_path / "x.json").read_text())
    meta["tensors"]["w"]["dtype"] = "torch.float64"
    (tmp_path / "x.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="dtypes differ"):
        load_tensors(tmp_path / "x")
    (tmp_path / "x.json").write_text("[1, 2]")
    with pytest.raises(CheckpointError, match="not a leapfactual sidecar"):
        load_tensors(tmp_path / "x")


def test_a_corrupt_header_and_an_unreadable_file(tmp_path: Path, monkeypatch) -> None:
    path = save_tensors(tmp_path / "x", {"w": torch.zeros(3)}, {})
    raw = bytearray(path.read_bytes())
    raw[9:12] = b"\xff\xfe\x00"
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="corrupt safetensors header"):
        load_tensors(tmp_path / "x")
    path.write_bytes(path.read_bytes()[:12])
    with pytest.raises(CheckpointError, match=r"truncated: its header announces"):
        load_tensors(tmp_path / "x")

    def denied(self: Path, *args: object) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", denied)
    with pytest.raises(CheckpointError, match=r"cannot read .*Permission denied"):
        load_tensors(tmp_path / "x")


def test_shared_tensors_are_saved(tmp_path: Path) -> None:
    t = torch.arange(6.0)
    save_tensors(tmp_path / "x", {"a": t, "b": t, "c": t[:3]}, {})
    loaded, _ = load_tensors(tmp_path / "x")
    assert torch.equal(loaded["b"], t) and torch.equal(loaded["c"], t[:3])


# -- the explicit importer ------------------------------------------------------------------
def test_import_torch_state_dict_reads_trusted_weights(tmp_path: Path) -> None:
    model = CNNClassifier(1, 8, 3, 4, 8)
    torch.save({"model": model.state_dict(), "epoch": 3}, tmp_path / "ckpt.pt")
    tensors = import_torch_state_dict(tmp_path / "ckpt.pt")
    fresh = CNNClassifier(1, 8, 3, 4, 8)
    fresh.load_state_dict({k.removeprefix("model."): v for k, v in tensors.items()})
    for key, value in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value)
    torch.save(model.state_dict(), tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    assert set(import_torch_state_dict(tmp_path / "legacy.pt")) == set(model.state_dict())
    save_tensors(tmp_path / "st", {"a": torch.ones(2)}, {})
    assert torch.equal(import_torch_state_dict(tmp_path / "st.safetensors")["a"], torch.ones(2))


def test_import_torch_state_dict_refuses_code_and_names_problems(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    (tmp_path / "evil.pt").write_bytes(torch_bytes({"w": torch.zeros(2), "x": Evil(marker)}))
    with pytest.raises(CheckpointError, match=r"weights_only=True\) refuses.*state_dict\(\)"):
        import_torch_state_dict(tmp_path / "evil.pt")
    assert not marker.exists()
    torch.save({"epoch": 3}, tmp_path / "none.pt")
    with pytest.raises(CheckpointError, match="holds no tensors"):
        import_torch_state_dict(tmp_path / "none.pt")
    (tmp_path / "cut.pt").write_bytes(torch_bytes({"w": torch.zeros(100)})[:50])
    with pytest.raises(CheckpointError, match=r"not a readable torch\.save file"):
        import_torch_state_dict(tmp_path / "cut.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        import_torch_state_dict(tmp_path / "missing.pt")


# -- module checkpoints and run directories -------------------------------------------------
def test_module_checkpoints_refuse_bad_files(tmp_path: Path) -> None:
    model = CNNClassifier(1, 8, 3, 4, 8)
    save_module(model, tmp_path / "clf")
    good = {s: (tmp_path / f"clf{s}").read_bytes() for s in (".safetensors", ".json")}

    def restore() -> None:
        for suffix, data in good.items():
            (tmp_path / f"clf{suffix}").write_bytes(data)

    (tmp_path / "clf.safetensors").write_bytes(good[".safetensors"][:-100])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_module(tmp_path / "clf")
    (tmp_path / "clf.safetensors").write_bytes(torch_bytes(model.state_dict()))
    with pytest.raises(CheckpointError, match="zip archive"):
        load_module(tmp_path / "clf")
    restore()
    save_module(CNNClassifier(1, 8, 3, 4, 8), tmp_path / "other")
    (tmp_path / "clf.json").write_bytes((tmp_path / "other.json").read_bytes())
    with pytest.raises(CheckpointError, match="different saves"):
        load_module(tmp_path / "clf")
    restore()
    meta = json.loads(good[".json"])
    meta["config"]["colour"] = "red"
    (tmp_path / "clf.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"stored settings do not fit CNNClassifier"):
        load_module(tmp_path / "clf")
    save_tensors(tmp_path / "plain", {"a": torch.ones(1)}, {"kind": "explanation"})
    with pytest.raises(CheckpointError, match="holds a 'explanation', not a module"):
        load_module(tmp_path / "plain")
    restore()
    with pytest.raises(CheckpointError, match="not a VectorField"):
        load_field(tmp_path / "clf")
    assert isinstance(load_module(tmp_path / "clf"), CNNClassifier)


def test_run_directory_with_bad_files_is_refused(tiny_run, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    cases = {
        "split.safetensors": (torch_bytes({"x": Evil(marker)}), "split.safetensors is a zip"),
        "classifier.safetensors": (b"", "classifier.safetensors is not a safetensors file"),
        "flow.json": (b"{not json", r"flow.json is not valid JSON"),
        "run.json": (b"{not json", r"run.json is not valid JSON"),
    }
    for name, (content, says) in cases.items():
        run = tmp_path / name
        shutil.copytree(tiny_run.directory, run, ignore=shutil.ignore_patterns("checkpoints"))
        (run / name).write_bytes(content)
        with pytest.raises(CheckpointError, match=says):
            load_run(run, dataset=tiny_run.dataset)
    assert not marker.exists()


def test_a_field_round_trips_after_the_changes(tmp_path: Path) -> None:
    field = MLPField(3, 4, width=8, depth=1)
    save_field(field, tmp_path / "f")
    back = load_field(tmp_path / "f")
    assert all(
        torch.equal(a, b) for a, b in zip(field.parameters(), back.parameters(), strict=True)
    )


# -- atomic writes --------------------------------------------------------------------------
def test_a_crash_mid_write_leaves_the_previous_file(tmp_path: Path, monkeypatch) -> None:
    save_tensors(tmp_path / "x", {"w": torch.zeros(1000)}, {"version": 1})
    real_fdopen = os.fdopen

    class Crashing:
        def __init__(self, handle) -> None:
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self.handle.close()

        def write(self, data: bytes) -> None:
            self.handle.write(data[: len(data) // 2])
            self.handle.flush()
            raise KeyboardInterrupt  # the process is stopped halfway through the bytes

    monkeypatch.setattr(files_module.os, "fdopen", lambda fd, mode: Crashing(real_fdopen(fd, mode)))
    with pytest.raises(KeyboardInterrupt):
        save_tensors(tmp_path / "x", {"w": torch.ones(1000)}, {"version": 2})
    monkeypatch.undo()
    tensors, meta = load_tensors(tmp_path / "x")
    assert meta["version"] == 1 and torch.equal(tensors["w"], torch.zeros(1000))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json", "x.safetensors"]


def test_a_failed_rename_leaves_the_previous_file(tmp_path: Path, monkeypatch) -> None:
    atomic_write_bytes(tmp_path / "f.bin", b"good")

    def fail(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files_module.os, "replace", fail)
    with pytest.raises(OSError, match="No space"):
        atomic_write_bytes(tmp_path / "f.bin", b"new and half")
    assert (tmp_path / "f.bin").read_bytes() == b"good"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


WRITER = textwrap.dedent(
    """
    import sys, torch
    from leapfactual.io import save_tensors
    i = 0
    while True:
        i += 1
        save_tensors(sys.argv[1], {"w": torch.full((2_000_000,), float(i))}, {"i": i})
        print(i, flush=True)
    """
)


def test_a_writer_killed_at_a_random_moment_never_leaves_a_half_file(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path / "x")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        for _ in range(3):  # let it finish a few saves, then kill it during a later one
            assert proc.stdout.readline(), "the writer died"
        time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    try:
        tensors, meta = load_tensors(tmp_path / "x")
    except CheckpointError as err:  # killed between the two renames: detected, not read
        assert "different saves" in str(err)
    else:
        assert meta["i"] >= 3 and bool((tensors["w"] == meta["i"]).all())
    leftovers = {p.name for p in tmp_path.iterdir()} - {"x.json", "x.safetensors"}
    assert all(name.startswith(".x.") and name.endswith(".tmp") for name in leftovers)
