"""Callbacks: the numbers training and explaining report as they go.

A callback is any object with the three methods of :class:`Callback` (subclass it to inherit
no-op defaults and implement only what you need). Training calls ``on_train_batch`` after
every optimiser step and ``on_train_epoch`` after every epoch (before its checkpoint); an
explainer calls ``on_explain_batch`` after every batch. Pass them to one call
(``training.fit(..., callbacks=[...])``, ``Explainer.explain(..., callbacks=[...])``) or to
every call inside a block (``with attached([...]):``), which is how ``fit_run`` and
``explain_run`` hand theirs to each stage. Only rank 0 of a distributed job calls them. An
exception a callback raises stops the work (as ``after_epoch`` does).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class TrainStep:
    """One optimiser step of a training stage.

    ``step`` counts the stage's optimiser steps from 1 (a resumed run goes on counting where
    it stopped); ``epoch`` is the epoch it belongs to (from 1); ``loss`` is this minibatch's
    mean loss (this rank's share under ``torchrun``); ``lr`` the learning rate it used.
    """

    stage: str
    epoch: int
    step: int
    loss: float
    lr: float


@dataclass(frozen=True)
class TrainEpoch:
    """The end of an epoch: ``epoch`` of ``epochs`` done, ``loss`` its sample-weighted mean
    (the value ``fit`` returns for it), ``step`` the optimiser steps done so far."""

    stage: str
    epoch: int
    epochs: int
    step: int
    loss: float
    lr: float


@dataclass(frozen=True)
class ExplainBatch:
    """An explained batch: batch ``batch`` of ``batches``, ``done`` of ``total`` CEs made so
    far, ``valid`` of this batch's ``size`` CEs reach their target, ``seconds`` since the call
    began."""

    method: str
    batch: int
    batches: int
    size: int
    valid: int
    done: int
    total: int
    seconds: float


@runtime_checkable
class Callback(Protocol):
    """What training and explaining call (subclass it for no-op defaults)."""

    def on_train_batch(self, event: TrainStep) -> None:
        """After each optimiser step."""
        return None

    def on_train_epoch(self, event: TrainEpoch) -> None:
        """After each epoch, before its checkpoint is written."""
        return None

    def on_explain_batch(self, event: ExplainBatch) -> None:
        """After each batch of an explainer."""
        return None


_ATTACHED: contextvars.ContextVar[tuple[Callback, ...]] = contextvars.ContextVar(
    "leapfactual_callbacks", default=()
)


def check_callbacks(callbacks: Iterable[Callback]) -> tuple[Callback, ...]:
    """``callbacks`` as a tuple, each checked to have the three methods."""
    checked = tuple(callbacks)
    for callback in checked:
        if not isinstance(callback, Callback):
            raise ValueError(
                f"a callback needs on_train_batch, on_train_epoch and on_explain_batch; "
                f"{type(callback).__name__} lacks some (subclass leapfactual.training.Callback)"
            )
    return checked


_STAGE: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "leapfactual_stage", default=None
)


@contextmanager
def attached(
    callbacks: Iterable[Callback], stage: str | None = None
) -> Iterator[tuple[Callback, ...]]:
    """Every training and explaining call inside the block also reports to ``callbacks``;
    ``stage`` names the training inside in its events (``fit_run``: ``vae``, ``oracle``
    ...; default: the trainer's own label)."""
    added = check_callbacks(callbacks)
    token = _ATTACHED.set((*_ATTACHED.get(), *added))
    named = _STAGE.set(stage) if stage is not None else None
    try:
        yield added
    finally:
        if named is not None:
            _STAGE.reset(named)
        _ATTACHED.reset(token)


def stage_name(label: str) -> str:
    """The stage the block around this call names, else ``label``."""
    return _STAGE.get() or label


def active_callbacks(callbacks: Iterable[Callback] = ()) -> tuple[Callback, ...]:
    """The callbacks attached around this call, then ``callbacks``."""
    return (*_ATTACHED.get(), *check_callbacks(callbacks))
