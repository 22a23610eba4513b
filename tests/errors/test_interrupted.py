"""Kill-and-resume: `leapfactual fit` killed with SIGKILL after its first epoch checkpoint
resumes, when run again, to exactly the weights of an uninterrupted run with the same seed."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from leapfactual.io import load_tensors

EPOCHS = 4


def fit_command(out: Path) -> list[str]:
    return [
        *(sys.executable, "-m", "leapfactual", "fit", "--out", str(out)),
        *("--data", "digits", "--stages", "vae", "--latent-dim", "4"),
        *("--vae-epochs", str(EPOCHS), "--seed", "3"),
    ]


def run_to_end(out: Path) -> int:
    """Fit to the end; return the epoch training started from (its progress bar's first)."""
    done = subprocess.run(fit_command(out), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    start = re.search(rf"(\d+)/{EPOCHS} \[", done.stderr)
    assert start is not None, done.stderr[-3000:]
    return int(start.group(1))


@pytest.mark.slow
def test_fit_killed_after_a_checkpoint_resumes_to_the_same_weights(tmp_path: Path) -> None:
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    assert run_to_end(straight) == 0

    first = killed / "checkpoints" / "vae" / "epoch-000001.json"
    proc = subprocess.Popen(fit_command(killed), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
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

    assert run_to_end(killed) >= 1, "the second run did not resume from the checkpoint"
    a, meta_a = load_tensors(straight / "vae")
    b, meta_b = load_tensors(killed / "vae")
    assert meta_a["config"] == meta_b["config"]
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert not list((killed / "checkpoints" / "vae").glob("epoch-*")), "checkpoints were left"
