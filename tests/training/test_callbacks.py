"""Callbacks hear every optimiser step and epoch of training, with the numbers, and every
batch of an explainer; ``attached`` hands them to every call inside a block."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from leapfactual.explain import PixelAttack
from leapfactual.training import (
    Callback,
    ExplainBatch,
    TrainEpoch,
    TrainStep,
    active_callbacks,
    attached,
    fit,
)


class Recorder(Callback):
    def __init__(self) -> None:
        self.steps: list[TrainStep] = []
        self.epochs: list[TrainEpoch] = []
        self.batches: list[ExplainBatch] = []

    def on_train_batch(self, event: TrainStep) -> None:
        self.steps.append(event)

    def on_train_epoch(self, event: TrainEpoch) -> None:
        self.epochs.append(event)

    def on_explain_batch(self, event: ExplainBatch) -> None:
        self.batches.append(event)


def train(epochs: int, checkpoint: Path | None = None, **kw) -> list[float]:
    torch.manual_seed(0)
    model = nn.Linear(2, 1)
    x = torch.arange(10.0).reshape(5, 2)

    def step(batch: Sequence[Tensor], generator: torch.Generator) -> Tensor:
        return model(batch[0]).pow(2).mean()

    return fit(
        model,
        [x],
        step,
        epochs=epochs,
        batch_size=2,
        lr=0.1,
        lr_milestones=(1,),
        desc="tiny",
        checkpoint=checkpoint,
        **kw,
    )


def test_every_step_and_epoch_is_reported_with_its_numbers() -> None:
    seen = Recorder()
    history = train(2, callbacks=[seen])
    assert [(e.stage, e.epoch, e.step) for e in seen.steps] == [
        ("tiny", 1, 1),
        ("tiny", 1, 2),
        ("tiny", 1, 3),
        ("tiny", 2, 4),
        ("tiny", 2, 5),
        ("tiny", 2, 6),
    ]
    assert [(e.epoch, e.epochs, e.step) for e in seen.epochs] == [(1, 2, 3), (2, 2, 6)]
    assert [e.loss for e in seen.epochs] == history
    assert [e.lr for e in seen.epochs] == pytest.approx([0.1, 0.01])  # milestone after 1
    batch_losses = torch.tensor([e.loss for e in seen.steps[:3]])
    assert float((batch_losses * torch.tensor([2, 2, 1])).sum() / 5) == pytest.approx(history[0])


def test_a_resumed_run_goes_on_counting_steps(tmp_path: Path) -> None:
    train(1, tmp_path / "ckpt")
    seen = Recorder()
    train(2, tmp_path / "ckpt", callbacks=[seen])
    assert [e.step for e in seen.steps] == [4, 5, 6]
    assert [e.epoch for e in seen.epochs] == [2]


def test_attached_reaches_every_call_in_the_block_and_only_there() -> None:
    outer, inner = Recorder(), Recorder()
    with attached([outer]):
        train(1, callbacks=[inner])
        assert active_callbacks() == (outer,)
    train(1)
    assert len(outer.epochs) == len(inner.epochs) == 1
    assert active_callbacks() == ()
    with attached([outer], stage="oracle"):  # fit_run names each stage it trains
        train(1)
    assert [e.stage for e in outer.epochs] == ["tiny", "oracle"]


def test_a_callback_that_raises_stops_training() -> None:
    class Stop(Callback):
        def on_train_epoch(self, event: TrainEpoch) -> None:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(2, callbacks=[Stop()])


def test_an_object_without_the_methods_is_refused() -> None:
    with pytest.raises(ValueError, match=r"object lacks some \(subclass leapfactual"):
        train(1, callbacks=[object()])  # type: ignore[list-item]
    assert isinstance(Recorder(), Callback)


def test_an_explainer_reports_every_batch() -> None:
    weight = torch.tensor([[1.0, -1.0], [-1.0, 1.0]])

    def classifier(x: Tensor) -> Tensor:
        return x.flatten(1)[:, :2] @ weight

    x = torch.rand(5, 1, 2, 2, generator=torch.Generator().manual_seed(0))
    seen = Recorder()
    exp = PixelAttack(classifier, batch_size=2, max_steps=30).explain(x, 1, callbacks=[seen])
    assert [(e.method, e.batch, e.batches, e.size, e.done, e.total) for e in seen.batches] == [
        ("pixel_attack", 1, 3, 2, 2, 5),
        ("pixel_attack", 2, 3, 2, 4, 5),
        ("pixel_attack", 3, 3, 1, 5, 5),
    ]
    assert sum(e.valid for e in seen.batches) == int(exp.valid.sum())
    seconds = [b.seconds for b in seen.batches]
    assert seconds == sorted(seconds)
