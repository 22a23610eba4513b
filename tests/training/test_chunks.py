"""Chunked minibatches: the single-process twin of a data-parallel run."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from leapfactual.io import CheckpointError
from leapfactual.training import fit

SETTINGS = dict(batch_size=16, lr=1e-2, lr_milestones=(2,), seed=4)


def data(n: int = 91) -> list[Tensor]:  # the last minibatch (11) splits 6 / 5
    x = torch.randn(n, 3, generator=torch.Generator().manual_seed(0))
    return [x, x.sum(1, keepdim=True).sin()]


def model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))


def exact(m: nn.Module):
    def step(batch: Sequence[Tensor], generator: torch.Generator) -> Tensor:
        return (m(batch[0]) - batch[1]).pow(2).mean()

    return step


def noisy(m: nn.Module):
    def step(batch: Sequence[Tensor], generator: torch.Generator) -> Tensor:
        noise = 0.1 * torch.randn(batch[0].shape, generator=generator)
        return (m(batch[0] + noise) - batch[1]).pow(2).mean()

    return step


def run(chunks: int | None, step=exact, epochs: int = 3, **kw) -> tuple[nn.Module, list[float]]:
    m = model()
    return m, fit(m, data(), step(m), epochs=epochs, chunks=chunks, **SETTINGS, **kw)


def test_chunks_weight_parts_so_a_deterministic_step_is_unchanged() -> None:
    one, h1 = run(None)
    for chunks in (2, 3):
        many, hn = run(chunks)
        for a, b in zip(one.parameters(), many.parameters(), strict=True):
            assert torch.allclose(a, b, atol=1e-6)
        assert hn == pytest.approx(h1, rel=1e-6)


def test_parts_draw_their_own_noise_reproducibly() -> None:
    a, _ = run(2, noisy)
    b, _ = run(2, noisy)
    c, _ = run(None, noisy)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters(), strict=True))


def test_chunked_resume_is_exact_and_chunks_join_the_fingerprint(tmp_path: Path) -> None:
    straight, history = run(2, noisy)
    run(2, noisy, epochs=1, checkpoint=tmp_path)
    resumed, resumed_history = run(2, noisy, checkpoint=tmp_path)
    assert all(
        torch.equal(p, q) for p, q in zip(straight.parameters(), resumed.parameters(), strict=True)
    )
    assert resumed_history == history
    with pytest.raises(CheckpointError, match=r"settings\.chunks"):
        run(None, noisy, epochs=4, checkpoint=tmp_path)


def test_bad_chunks_and_device_argument() -> None:
    with pytest.raises(ValueError, match=r"chunks \(0\) must be a positive multiple"):
        run(0)
    m, _ = run(None, epochs=1, device="cpu")
    assert next(m.parameters()).device.type == "cpu"
