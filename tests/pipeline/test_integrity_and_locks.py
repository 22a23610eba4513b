"""Damaged shards are redone, run and output directories have one writer, nothing is written
through a planted link, run.json is checked entry by entry, and arguments before any work."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch
import toys

from leapfactual.io import DirectoryBusyError, exclusive
from leapfactual.pipeline import explain_run, fit_run, load_run
from leapfactual.pipeline.settings import ExplainSettings
from leapfactual.pipeline.shards import explain_sharded, merge_shards, shard_progress


def test_a_damaged_finished_shard_is_redone(tmp_path: Path) -> None:
    x, targets = toys.toy_points(12)
    explain_sharded(toys.toy_explainer(), x, targets, tmp_path, shard_size=4)
    shard = tmp_path / "shards" / "shard-000001.safetensors"
    raw = bytearray(shard.read_bytes())
    raw[-16:] = bytes(16)  # the same size and structure, other numbers
    shard.write_bytes(bytes(raw))
    (tmp_path / "shards" / "shard-000002.safetensors").unlink()  # an incomplete one
    assert shard_progress(tmp_path) == (1, 3)
    with pytest.raises(ValueError, match=r"2 of 3 shards .* not finished .*\[1, 2\]"):
        merge_shards(tmp_path)
    report = explain_sharded(toys.toy_explainer(), x, targets, tmp_path, shard_size=4)
    assert (report.computed, report.skipped) == ([1, 2], [0])
    merged = merge_shards(tmp_path).load()
    assert torch.allclose(merged.x_cf, toys.toy_explainer().explain(x, targets).x_cf)


def test_force_never_deletes_through_a_linked_shards_folder(tmp_path: Path) -> None:
    keep = tmp_path / "precious"
    keep.mkdir()
    (keep / "data.txt").write_text("keep")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "shards").symlink_to(keep)
    x, targets = toys.toy_points(4)
    with pytest.raises(ValueError, match=r"shards is a symbolic link"):
        explain_sharded(toys.toy_explainer(), x, targets, tmp_path / "out", overwrite=True)
    assert (keep / "data.txt").read_text() == "keep"


def test_a_second_explain_job_on_one_out_names_the_first(tiny_run, tmp_path: Path) -> None:
    out = tmp_path / "out"
    fast = ExplainSettings(limit=2)
    busy = pytest.raises(DirectoryBusyError, match=rf"pid {os.getpid()}, explain")
    with exclusive(out, "explain"), busy:  # as if another job held it
        explain_run(tiny_run, out, settings=fast)
    assert [p.name for p in out.iterdir()] == [".leapfactual-lock"]
    assert explain_run(tiny_run, out, settings=fast).explanation is not None


def test_a_second_fit_job_on_one_run_names_the_first(tiny_run, tiny_config) -> None:
    with exclusive(tiny_run.directory, "fit"), pytest.raises(DirectoryBusyError, match="fit"):
        fit_run(tiny_run.directory, tiny_config)


def test_fit_never_writes_through_a_planted_checkpoint_link(tiny_run, tiny_config, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run.directory, run, ignore=shutil.ignore_patterns("checkpoints"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "oracle").symlink_to(elsewhere)
    with pytest.raises(ValueError, match=r"checkpoints/oracle is a symbolic link"):
        fit_run(run, tiny_config, stages=("oracle",), dataset=tiny_run.dataset)
    assert not list(elsewhere.iterdir())


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (lambda m: {**m, "files": []}, r"'files' must be an object"),
        (lambda m: {**m, "data": {**m["data"], "shape": "abc"}}, r"'data' must be an object"),
        (lambda m: {**m, "summary": [1]}, r"'summary' must be an object of numbers"),
        (lambda m: {**m, "classifier_source": {"sha256": "0"}}, r"'classifier_source' must be"),
        (lambda m: {**m, "config": {**m["config"], "seed": "x"}}, r"seed must be an integer"),
    ],
)
def test_wrongly_typed_run_json_entries_are_named(tiny_run, tmp_path: Path, edit, says) -> None:
    run = tmp_path / "run"
    shutil.copytree(tiny_run.directory, run, ignore=shutil.ignore_patterns("checkpoints"))
    meta = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps(edit(meta)))
    with pytest.raises(ValueError, match=says):
        load_run(run)


def test_arguments_are_checked_before_the_run_is_loaded(tiny_run, tmp_path, monkeypatch) -> None:
    import leapfactual.pipeline.explain as pipeline_explain

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the run was loaded")

    monkeypatch.setattr(pipeline_explain, "load_run", never)
    run = tiny_run.directory
    for settings, says in [
        (ExplainSettings(target="sideways"), r"unknown target 'sideways'"),
        (ExplainSettings(target="99"), r"target class 99 is outside 0-9"),
    ]:
        with pytest.raises(ValueError, match=says):
            explain_run(run, tmp_path / "a", settings=settings)
    with pytest.raises(ValueError, match=r"unknown device 'bogus'"):
        explain_run(run, tmp_path / "b", device="bogus")
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file"):
        explain_run(run, tmp_path / "file")
