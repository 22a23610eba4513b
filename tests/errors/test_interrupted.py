"""Kill-and-resume: `leapfactual fit` killed with SIGKILL after its first epoch checkpoint
resumes, when run again, to exactly the weights of an uninterrupted run with the same seed.

Only the killed fit is a process of its own; the uninterrupted and the resuming fits run the
same command line in this process (the ``cli`` fixture)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from leapfactual.io import load_tensors

EPOCHS = 4


def fit_args(out: Path) -> list[str]:
    return [
        *("fit", "--out", str(out), "--data", "digits", "--stages", "vae", "--latent-dim", "4"),
        *("--vae-epochs", str(EPOCHS), "--seed", "3", "--set", "vae.min_steps=0"),
    ]


def run_to_end(cli: Callable[..., Any], out: Path) -> int:
    """Fit to the end; return the epoch training started from (its progress bar's first)."""
    done = cli(*fit_args(out))
    assert done.returncode == 0, done.stderr[-3000:]
    start = re.search(rf"(\d+)/{EPOCHS} \[", done.stderr)
    assert start is not None, done.stderr[-3000:]
    return int(start.group(1))


@pytest.mark.slow
def test_fit_killed_after_a_checkpoint_resumes_to_the_same_weights(cli, tmp_path: Path) -> None:
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    assert run_to_end(cli, straight) == 0

    first = killed / "checkpoints" / "vae" / "epoch-000001.json"
    command = [sys.executable, "-m", "leapfactual", *fit_args(killed)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
    assert first.exists(), f"no checkpoint was written: {err.decode()[-2000:]}"
    assert proc.returncode == -signal.SIGKILL, "the fit finished before it could be killed"
    assert not (killed / "vae.safetensors").exists(), "the stage ended before the kill"

    assert run_to_end(cli, killed) >= 1, "the second run did not resume from the checkpoint"
    a, meta_a = load_tensors(straight / "vae")
    b, meta_b = load_tensors(killed / "vae")
    assert meta_a["config"] == meta_b["config"]
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert not list((killed / "checkpoints" / "vae").glob("epoch-*")), "checkpoints were left"
