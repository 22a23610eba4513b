"""What the machine raises (a full disk, memory running out) ends in one line and exit 2."""

from __future__ import annotations

import errno
import re

import pytest
import torch

import leapfactual.pipeline


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (
            OSError(errno.ENOSPC, "No space left on device", "OUT/explanation.safetensors"),
            r"OUT/explanation\.safetensors: No space left on device \(the disk is full",
        ),
        (MemoryError(), r"out of memory; lower --batch-size"),
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
