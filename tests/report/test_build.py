"""The report checks what it draws before drawing: stored trajectories must fit the inputs."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest
import torch

from leapfactual.report import build_report

from .test_html import fake_explanation


class Codec:
    """Decodes a latent ``[B, 4]`` to images ``[B, 1, side, side]``."""

    def __init__(self, side: int) -> None:
        self.side = side

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return z.mean(dim=1).sigmoid().view(-1, 1, 1, 1).expand(-1, 1, self.side, self.side)


def test_trajectories_that_do_not_fit_the_inputs_are_refused() -> None:
    exp = fake_explanation()  # inputs 1x8x8, 4 classes, 5 trajectory steps
    small = dataclasses.replace(exp, trajectory_images=torch.rand(3, 5, 1, 6, 6))
    message = (
        r"trajectory_images have shape \(3, 5, 1, 6, 6\), but its inputs are images \(1, 8, 8\)"
    )
    with pytest.raises(ValueError, match=message + ": the two were not made together"):
        build_report(small, "abcd", "t")
    classes = dataclasses.replace(exp, trajectory_probs=torch.rand(3, 5, 3))
    with pytest.raises(ValueError, match=r"trajectory_probs have shape \(3, 5, 3\), but it has 4"):
        build_report(classes, "abcd", "t")
    latent = dataclasses.replace(exp, trajectory_images=None, trajectory=torch.rand(3, 5, 4))
    other_run = SimpleNamespace(vae=Codec(6), oracle=None)
    message = r"latent trajectory to images \(1, 6, 6\), but its inputs are images \(1, 8, 8\)"
    with pytest.raises(ValueError, match=message):
        build_report(latent, "abcd", "t", run=other_run)  # type: ignore[arg-type]
    assert build_report(latent, "abcd", "t", run=SimpleNamespace(vae=Codec(8), oracle=None))  # type: ignore[arg-type]
    assert build_report(exp, "abcd", "t")
