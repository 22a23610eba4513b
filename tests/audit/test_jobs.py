"""Audit and repair jobs hold their output directory: one writer, --force keeps the lock and a
person's answers, and never follows a link."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from leapfactual.audit.jobs import ANSWERS, audit_inputs, audit_run, repair_run
from leapfactual.audit.teachers import RuleTeacher
from leapfactual.io import LOCK_NAME, DirectoryBusyError, clear, exclusive


def test_a_second_audit_job_on_one_out_names_the_first(tiny_run, tmp_path: Path) -> None:
    out = tmp_path / "audit"
    with exclusive(out, "audit"), pytest.raises(DirectoryBusyError, match=rf"pid {os.getpid()}"):
        audit_run(tiny_run, out, limit=2)
    assert [p.name for p in out.iterdir()] == [LOCK_NAME]  # nothing was written
    done = audit_run(tiny_run, out, limit=2)
    assert done.page.is_file() and (out / LOCK_NAME).is_file()
    again = audit_run(tiny_run, out, limit=2, force=True)  # emptied, lock kept, redone
    assert again.skipped == [] and (out / LOCK_NAME).is_file()


def test_a_second_repair_job_is_refused_before_any_work(tiny_run, tmp_path: Path) -> None:
    out = tmp_path / "repair"
    teacher = RuleTeacher(tiny_run.classifier)
    with exclusive(out, "repair"), pytest.raises(DirectoryBusyError, match="repair"):
        repair_run(tiny_run, out, teacher, force=True)
    assert [p.name for p in out.iterdir()] == [LOCK_NAME]


def test_clear_keeps_the_lock_and_named_entries_and_never_follows_links(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "data.txt").write_text("keep")
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    (out / "sub" / "file").write_text("x")
    (out / ANSWERS).write_text("{}")
    (out / LOCK_NAME).write_text("1 audit\n")
    (out / "link").symlink_to(precious)
    clear(out, keep=(ANSWERS,))
    assert sorted(p.name for p in out.iterdir()) == sorted([ANSWERS, LOCK_NAME])
    assert (precious / "data.txt").read_text() == "keep"


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
