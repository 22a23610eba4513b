"""Audit and repair jobs hold their output directory: one writer; --force removes only what
the job writes (never the lock, a person's answers or a user's files) and refuses a linked
directory."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from leapfactual.audit.jobs import ANSWERS, REPAIR_FILES, audit_inputs, audit_run, repair_run
from leapfactual.audit.teachers import RuleTeacher
from leapfactual.io import LOCK_NAME, DirectoryBusyError, clear, exclusive


def test_a_second_audit_job_on_one_out_names_the_first(tiny_run, tmp_path: Path) -> None:
    out = tmp_path / "audit"
    with exclusive(out, "audit"), pytest.raises(DirectoryBusyError, match=rf"pid {os.getpid()}"):
        audit_run(tiny_run, out, limit=2)
    assert [p.name for p in out.iterdir()] == [LOCK_NAME]  # nothing was written
    done = audit_run(tiny_run, out, limit=2)
    assert done.page.is_file() and (out / LOCK_NAME).is_file()
    (out / "notes.txt").write_text("mine")
    lines: list[str] = []
    again = audit_run(tiny_run, out, limit=2, force=True, log=lines.append)  # lock kept, redone
    assert again.skipped == [] and (out / LOCK_NAME).is_file()
    assert (out / "notes.txt").read_text() == "mine"
    assert f"--force kept 1 entry of {out} that this job does not write: notes.txt" in lines
    assert audit_run(tiny_run, out, limit=2).skipped == ["explanation", "necessity"]


def test_force_removes_what_a_repair_writes_and_keeps_the_rest(tmp_path: Path) -> None:
    out = tmp_path / "repair"
    (out / "round-0").mkdir(parents=True)
    for name in ("cfkd.json", "classifier.safetensors", "classifier.json", "repair.md", ANSWERS):
        (out / name).write_text("x")
    (out / "my-notes.md").write_text("mine")
    assert clear(out, REPAIR_FILES) == [ANSWERS, "my-notes.md"]
    assert sorted(p.name for p in out.iterdir()) == [ANSWERS, "my-notes.md"]


def test_repair_force_keeps_a_users_files_and_a_bad_test_removes_nothing(
    tiny_run, tmp_path: Path, monkeypatch
) -> None:
    import leapfactual.audit.jobs as jobs

    out = tmp_path / "repair"
    (out / "round-0").mkdir(parents=True)
    for name in ("cfkd.json", ANSWERS, "notes.txt"):
        (out / name).write_text("x")
    teacher = RuleTeacher(tiny_run.classifier)
    with pytest.raises(ValueError, match="unknown dataset"):
        repair_run(tiny_run, out, teacher, test="mnist6k", force=True)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [LOCK_NAME, ANSWERS, "cfkd.json", "notes.txt", "round-0"]
    )

    def stop(*args: object, **kwargs: object) -> None:
        raise RuntimeError("stopped after --force")

    monkeypatch.setattr(jobs, "refitting_factory", stop)
    lines: list[str] = []
    with pytest.raises(RuntimeError, match="stopped after --force"):
        repair_run(tiny_run, out, teacher, force=True, log=lines.append)
    # cleared, then the job's own audit written again before it stopped
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [LOCK_NAME, ANSWERS, "audit", "notes.txt"]
    )
    assert lines[0] == f"--force kept 1 entry of {out} that this job does not write: notes.txt"


def test_force_refuses_a_linked_out_before_any_work(tiny_run, tmp_path: Path) -> None:
    real = tmp_path / "project"
    real.mkdir()
    (real / "code.py").write_text("precious")
    link = tmp_path / "out"
    link.symlink_to(real)
    teacher = RuleTeacher(tiny_run.classifier)
    for job in (
        lambda: audit_run(tiny_run, link, limit=2, force=True),
        lambda: repair_run(tiny_run, link, teacher, force=True),
    ):
        with pytest.raises(ValueError, match=r"out is a symbolic link .*--force never removes"):
            job()
    assert sorted(p.name for p in real.iterdir()) == ["code.py"]  # not even a lock file


def test_a_second_repair_job_is_refused_before_any_work(tiny_run, tmp_path: Path) -> None:
    out = tmp_path / "repair"
    teacher = RuleTeacher(tiny_run.classifier)
    with exclusive(out, "repair"), pytest.raises(DirectoryBusyError, match="repair"):
        repair_run(tiny_run, out, teacher, force=True)
    assert [p.name for p in out.iterdir()] == [LOCK_NAME]


def test_audit_inputs_are_balanced_over_a_sorted_class_tree(tiny_run, tmp_path: Path) -> None:
    from PIL import Image

    for k, name in enumerate(("a", "b", "c")):
        (tmp_path / "tree" / name).mkdir(parents=True)
        for i in range(4):
            value = np.full((28, 28), 40 * k + i, dtype=np.uint8)
            Image.fromarray(value).save(tmp_path / "tree" / name / f"{i}.png")
    tree = [str(tmp_path / "tree")]
    classes = lambda x: ((x[:, 0, 0, 0] * 255).round() // 40).int().tolist()  # noqa: E731
    assert classes(audit_inputs(tiny_run, tree, limit=4)) == [0, 1, 2, 0]  # not four of "a"
    assert classes(audit_inputs(tiny_run, tree, limit=50, per_class=2)) == [0, 1, 2, 0, 1, 2]
    split = audit_inputs(tiny_run, "test", limit=10)
    wanted = tiny_run.test.labels.unique()[:10].tolist()
    labels = [int(tiny_run.test.labels[(tiny_run.test.images == img).flatten(1).all(1)][0])
              for img in split]  # fmt: skip
    assert sorted(labels) == sorted(wanted)
    with pytest.raises(ValueError, match="--per-class needs images of known classes"):
        audit_inputs(tiny_run, [str(tmp_path / "tree" / "a")], limit=3, per_class=1)


def test_the_audit_header_carries_the_runs_verdict_defensively() -> None:
    from leapfactual.audit import verdict_lines

    assert verdict_lines(None) == [
        "Run verdict: not recorded (the run holds none; refit it to get one)."
    ]
    weak = {
        "level": "untrusted",
        "checks": [
            {"name": "codec", "title": "codec SSIM", "status": "fail",
             "message": "the codec loses the images", "fix": "train the VAE longer"},
            {"name": "flow", "title": "flow samples", "status": "pass", "message": "", "fix": ""},
            "not a check",
        ],
    }  # fmt: skip
    lines = verdict_lines(weak)
    assert lines[0].startswith("Run verdict: untrusted. The audit explains CEs of this run")
    assert lines[1:] == ["- codec SSIM: the codec loses the images; fix: train the VAE longer"]
    assert verdict_lines({"level": "trusted", "checks": []}) == ["Run verdict: trusted."]
