"""Audit and repair jobs hold their output directory: one writer, --force keeps the lock and a
person's answers, and never follows a link."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from leapfactual.audit.jobs import ANSWERS, audit_run, repair_run
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
