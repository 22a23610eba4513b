"""What the machine raises (a full disk, memory running out) ends in one line and exit 2."""

from __future__ import annotations

import errno
import re

import pytest
import torch

import leapfactual.pipeline
from leapfactual._memory import OutOfMemory


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (
            OSError(errno.ENOSPC, "No space left on device", "OUT/explanation.safetensors"),
            r"OUT/explanation\.safetensors: No space left on device \(the disk is full",
        ),
        (MemoryError(), r"out of memory; lower --batch-size"),
        (
            OutOfMemory("out of memory while fitting the vae: vae.width = 9 (default 1) sets"),
            r"^error: out of memory while fitting the vae: vae\.width = 9 \(default 1\) sets$",
        ),
        (torch.OutOfMemoryError("CUDA out of memory"), r"out of memory; .*CUDA out of memory"),
        (
            RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried 4 TB"),
            r"out of memory; .*can't allocate memory",
        ),
        (OSError(errno.EIO, "Input/output error", "RUN/vae.json"), r"RUN/vae\.json: Input/output"),
    ],
)
def test_machine_errors_are_one_line(cli, tmp_path, monkeypatch, error, says) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(leapfactual.pipeline, "explain_run", fail)
    done = cli("explain", str(tmp_path), "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert re.search(says, lines[0]), lines[0]


def test_other_runtime_errors_keep_their_traceback(cli, tmp_path, monkeypatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(leapfactual.pipeline, "explain_run", fail)
    done = cli("explain", str(tmp_path), "--out", str(tmp_path / "out"))
    assert done.returncode == 1 and "RuntimeError: a bug" in done.stderr


def test_a_full_disk_after_the_explanation_is_saved_says_so(cli, tiny_run, tmp_path, monkeypatch):
    import leapfactual.cli.explain

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "out/report.html"))

    monkeypatch.setattr(leapfactual.cli.explain, "write_report", full)
    out = tmp_path / "out"
    fast = ("--limit", "1", "--blend-steps", "1", "--inject-steps", "0")
    done = cli("explain", str(tiny_run.directory), "--out", str(out), *fast)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: the disk is full: the explanation is saved complete in {out} (explanation."
        "safetensors and explanation.json), but its page could not be written; free space and "
        f"write it with `leapfactual report {out}`"
    )
    monkeypatch.undo()
    page = cli("report", str(out))
    assert page.returncode == 0, page.stderr
    assert (out / "report.html").is_file()


def test_other_disk_errors_pass_through_saved_before(tmp_path) -> None:
    from leapfactual.cli.common import saved_before

    error = OSError(errno.EIO, "Input/output error", "OUT/report.html")
    with pytest.raises(OSError) as raised, saved_before(tmp_path):
        raise error
    assert raised.value is error
