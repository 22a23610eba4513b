"""Sharded explanation in one process: shards, merge, restart after a crash, refusals."""

from __future__ import annotations

import platform
import sys
import weakref
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
import toys
from torch import Tensor

import leapfactual.pipeline.shards as shards
from leapfactual.explain import Cost, Explanation
from leapfactual.io import TensorFile, load_tensors
from leapfactual.pipeline.shards import (
    explain_sharded,
    merge_shards,
    shard_progress,
)


def assert_same(a: Explanation, b: Explanation) -> None:
    assert a.tensors().keys() == b.tensors().keys()
    for key, value in a.tensors().items():
        assert torch.allclose(getattr(b, key), value, atol=1e-5), key


def test_shards_merge_into_the_explanation_of_one_call(tmp_path: Path) -> None:
    x, targets = toys.toy_points(20)
    report = explain_sharded(toys.toy_explainer(), x, targets, tmp_path, shard_size=6)
    assert (report.total, report.computed, report.skipped) == (4, [0, 1, 2, 3], [])
    assert shard_progress(tmp_path) == (4, 4)
    merged = merge_shards(tmp_path).load()
    assert_same(toys.toy_explainer().explain(x, targets), merged)
    assert merged.config["shards"] == 4 and merged.cost.n == 20
    assert_same(merged, Explanation.load(tmp_path))


def old_in_memory_merge(out: Path) -> tuple[dict[str, Tensor], dict]:
    """What merge_shards did before it streamed: every shard loaded, then concatenated."""
    parts: dict[str, list[Tensor]] = {}
    cost = Cost()
    for path in sorted((out / "shards").glob("shard-*.safetensors")):
        tensors, meta = load_tensors(path)
        for key, value in tensors.items():
            parts.setdefault(key, []).append(value)
        cost.add(Cost(**meta["cost"]))
    merged = {k: torch.cat(v) for k, v in parts.items() if k != "row"}
    return merged, {"method": meta["method"], "cost": asdict(cost), "config": meta["config"]}


def test_the_streamed_merge_equals_the_in_memory_merge_bit_for_bit(tmp_path: Path) -> None:
    x, targets = toys.toy_points(23)
    explain_sharded(toys.toy_explainer(), x, targets, tmp_path, shard_size=5)
    tensors, meta = old_in_memory_merge(tmp_path)
    stored = merge_shards(tmp_path)
    assert stored.names == list(Explanation.load(tmp_path).tensors())
    assert set(stored.names) == set(tensors)
    for key, value in tensors.items():
        got = stored.column(key)
        assert got.dtype == value.dtype and torch.equal(got, value), key
    assert (stored.method, asdict(stored.cost)) == (meta["method"], meta["cost"])
    assert stored.config == {**meta["config"], "shards": 5, "shard_size": 5, "job": {}}


def test_the_merge_holds_one_shards_tensor_at_a_time(tmp_path: Path, monkeypatch) -> None:
    x, targets = toys.toy_points(20)
    explain_sharded(toys.toy_explainer(), x, targets, tmp_path, shard_size=4)
    real, alive, seen = TensorFile.read, [], []

    def counting(self: TensorFile, name: str, rows=None) -> Tensor:
        if self.path.name.startswith("shard-"):
            seen.append(sum(ref() is not None for ref in alive))
            value = real(self, name, rows)
            alive.append(weakref.ref(value))
            return value
        return real(self, name, rows)

    monkeypatch.setattr(TensorFile, "read", counting)
    merged = merge_shards(tmp_path, keep_shards=False)
    assert len(seen) == 5 * len(merged.names) and max(seen) == 0  # the last one was released
    assert not (tmp_path / "shards").exists() and len(merged) == 20


def test_samples_marked_invalid_are_merged_and_counted(tmp_path: Path) -> None:
    x, targets = toys.toy_points(12)
    marked = torch.zeros(12, dtype=torch.bool)
    marked[[1, 7, 8]] = True  # in shards 0 and 1
    explainer = toys.toy_explainer().set_nonfinite("invalid")

    def nan_on_three_inputs(points: Tensor) -> Tensor:
        out = toys.quadrant(points)
        hit = (points[:, None] == x[marked][None]).all(dim=2).any(dim=1)
        return torch.where(hit[:, None], torch.full_like(out, float("nan")), out)

    explainer.classifier = nan_on_three_inputs
    explain_sharded(explainer, x, targets, tmp_path, shard_size=5)
    stored = merge_shards(tmp_path)
    assert stored.nonfinite is not None and torch.equal(stored.nonfinite, marked)
    assert not bool(stored.valid[marked].any())
    assert torch.equal(stored.column("x_cf", marked), x[marked])


def test_rows_and_an_image_function_stream_inputs(tmp_path: Path) -> None:
    x, _ = toys.toy_points(5)
    rows = torch.tensor([0, 0, 3, 4, 4, 4, 1])
    targets = torch.tensor([1, 2, 0, 1, 2, 3, 3])
    seen: list[int] = []

    def fetch(idx: Tensor) -> Tensor:
        seen.append(len(idx))
        return x[idx]

    explain_sharded(toys.toy_explainer(), fetch, targets, tmp_path, rows=rows, shard_size=3)
    assert seen == [3, 3, 1]  # never more than one shard of inputs at a time
    assert_same(toys.toy_explainer().explain(x[rows], targets), merge_shards(tmp_path).load())


def test_a_shard_is_released_before_the_next(tmp_path: Path) -> None:
    x, targets = toys.toy_points(20)
    explainer = toys.toy_explainer()
    real, made = explainer.explain, []

    def explain(xb: Tensor, tb: Tensor) -> Explanation:
        assert all(ref() is None for ref in made), "a finished shard is still in memory"
        exp = real(xb, tb)
        made.append(weakref.ref(exp))
        return exp

    explainer.explain = explain  # type: ignore[method-assign]
    explain_sharded(explainer, x, targets, tmp_path, shard_size=6)
    assert len(made) == 4


def resident_kb() -> int:
    status = Path("/proc/self/status").read_text().splitlines()
    return int(next(line for line in status if line.startswith("VmRSS")).split()[1])


GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


def test_memory_is_handed_back_after_every_shard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[bool] = []
    monkeypatch.setattr(shards, "release_memory", lambda: calls.append(True) or True)
    x, targets = toys.toy_points(20)
    explain_sharded(toys.toy_explainer(), x, targets, tmp_path, shard_size=6)
    assert len(calls) == 4


@pytest.mark.skipif(not GLIBC, reason="glibc's allocator only")
def test_release_memory_gives_glibc_free_heap_pages_back() -> None:
    # 400 written blocks of 64 KiB come from the heap (under glibc's mmap threshold); freeing
    # every other one leaves 12.5 MiB of holes that glibc keeps resident
    blocks = [bytearray(b"\x01") * (64 << 10) for _ in range(400)]
    del blocks[::2]
    before = resident_kb()
    assert shards.release_memory()
    assert before - resident_kb() > 6 << 10


def test_release_memory_is_a_no_op_off_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shards.platform, "libc_ver", lambda: ("musl", "1.2"))
    assert not shards.release_memory()


class Crash(RuntimeError):
    pass


def test_a_restart_skips_finished_shards_and_ends_the_same(tmp_path: Path) -> None:
    x, targets = toys.toy_points(20)
    crashing = toys.toy_explainer()
    real, calls = crashing.explain, []

    def explain(xb: Tensor, tb: Tensor) -> Explanation:
        calls.append(len(xb))
        if len(calls) == 3:
            raise Crash("killed")
        return real(xb, tb)

    crashing.explain = explain  # type: ignore[method-assign]
    with pytest.raises(Crash):
        explain_sharded(crashing, x, targets, tmp_path, shard_size=6)
    assert shard_progress(tmp_path) == (2, 4)
    with pytest.raises(ValueError, match=r"2 of 4 shards .* are not finished"):
        merge_shards(tmp_path)
    stamps = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "shards").glob("shard-*")}
    report = explain_sharded(toys.toy_explainer(), x, targets, tmp_path, shard_size=6)
    assert (report.computed, report.skipped) == ([2, 3], [0, 1])
    for name, stamp in stamps.items():
        assert (tmp_path / "shards" / name).stat().st_mtime_ns == stamp
    assert_same(toys.toy_explainer().explain(x, targets), merge_shards(tmp_path).load())


def test_a_torn_shard_is_made_again(tmp_path: Path) -> None:
    x, targets = toys.toy_points(12)
    explain_sharded(toys.toy_explainer(), x, targets, tmp_path, shard_size=6)
    (tmp_path / "shards" / "shard-000001.json").write_text("{trunc")
    report = explain_sharded(toys.toy_explainer(), x, targets, tmp_path, shard_size=6)
    assert report.computed == [1]


def test_another_job_is_refused_unless_overwritten(tmp_path: Path) -> None:
    x, targets = toys.toy_points(12)
    explain_sharded(toys.toy_explainer(), x, targets, tmp_path, shard_size=6)
    with pytest.raises(ValueError, match=r"another explain job .*targets_sha256.*--force"):
        explain_sharded(toys.toy_explainer(), x, (targets + 1) % 4, tmp_path, shard_size=6)
    with pytest.raises(ValueError, match="shard_size"):
        explain_sharded(toys.toy_explainer(), x, targets, tmp_path, shard_size=4)
    report = explain_sharded(
        toys.toy_explainer(), x, (targets + 1) % 4, tmp_path, shard_size=4, overwrite=True
    )
    assert report.computed == [0, 1, 2]
    assert_same(toys.toy_explainer().explain(x, (targets + 1) % 4), merge_shards(tmp_path).load())


def test_bad_arguments_are_named(tmp_path: Path) -> None:
    x, targets = toys.toy_points(4)
    with pytest.raises(ValueError, match="shard_size must be positive"):
        explain_sharded(toys.toy_explainer(), x, targets, tmp_path, shard_size=0)
    with pytest.raises(ValueError, match="one target per row"):
        explain_sharded(toys.toy_explainer(), x, targets[:2], tmp_path, rows=torch.arange(4))
    with pytest.raises(FileNotFoundError, match=r"no job.json"):
        merge_shards(tmp_path / "empty")


def test_explainer_to_moves_its_models() -> None:
    explainer = toys.toy_explainer()
    assert explainer.to("meta") is explainer and explainer.device == torch.device("meta")
    assert all(p.is_meta for p in explainer.field.parameters())
