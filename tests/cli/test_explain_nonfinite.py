"""`explain --nonfinite invalid`: samples with a NaN model output are marked, counted, printed."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from leapfactual.explain import Explanation
from leapfactual.models.classifier import CNNClassifier


def test_marked_samples_are_counted_in_the_summary_line(cli, tiny_run, tmp_path, monkeypatch):
    first = tiny_run.test.images[0]
    real = CNNClassifier.forward

    def nan_on_the_first_test_image(self: CNNClassifier, x: Tensor) -> Tensor:
        out = real(self, x)
        hit = (x == first.to(x.dtype)).flatten(1).all(dim=1)
        return torch.where(hit[:, None], torch.full_like(out, math.nan), out)

    monkeypatch.setattr(CNNClassifier, "forward", nan_on_the_first_test_image)
    args = ["explain", str(tiny_run.directory), "--limit", "3", "--blend-steps", "1"]
    args += ["--inject-steps", "0", "--samples", "0"]
    stopped = cli(*args, "--out", str(tmp_path / "error"))
    assert stopped.returncode == 2
    assert "the classifier (CNNClassifier) returned NaN" in stopped.stderr
    done = cli(*args, "--out", str(tmp_path / "e"), "--nonfinite", "invalid")
    assert done.returncode == 0, done.stderr
    assert "; 1 marked invalid (non-finite model outputs)" in done.stdout
    exp = Explanation.load(tmp_path / "e")
    assert exp.nonfinite is not None and exp.nonfinite.tolist() == [True, False, False]
    bad = cli(*args, "--out", str(tmp_path / "b"), "--nonfinite", "skip")
    assert bad.returncode == 2 and "nonfinite must be one of error, invalid" in bad.stderr
    assert not (tmp_path / "b").exists()
