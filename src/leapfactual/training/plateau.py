"""Early stopping on a held-out plateau: the rule, its record, and its state beside a checkpoint.

The decision after epoch ``e`` is a pure function of the held-out losses of epochs ``1..e``, so
a run is deterministic, and a resumed run (whose losses so far are read back from
``plateau.json`` in the checkpoint directory, cut to the epochs the checkpoint holds) stops
where an uninterrupted one does.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from leapfactual.distributed import world
from leapfactual.io import write_json
from leapfactual.training.options import check_patience

STATE_FILE = "plateau.json"


def plateau_epoch(losses: Sequence[float], patience: int, min_improvement: float) -> int:
    """The epoch (1-based) of the last improvement in ``losses``: the first epoch, then each
    epoch whose loss is below the best so far by more than ``min_improvement`` of it."""
    best, at = math.inf, 0
    for epoch, loss in enumerate(losses, start=1):
        if at == 0 or loss < best - min_improvement * abs(best):
            best, at = loss, epoch
    return at


class Plateau:
    """``stop(done) -> bool`` for :func:`leapfactual.training.fit`: evaluates ``held_out()``
    (a held-out loss) after every epoch and stops when it has not improved by more than
    ``min_improvement`` (relative to the best so far) for ``patience`` epochs, never before
    ``min_epochs`` epochs. ``record`` says where training stopped and why."""

    def __init__(
        self,
        held_out: Callable[[], float],
        patience: int,
        min_improvement: float,
        min_epochs: int,
        max_epochs: int,
        checkpoint: str | os.PathLike[str] | None = None,
    ) -> None:
        check_patience("early stopping", patience, min_improvement)
        if patience == 0:
            raise ValueError("a Plateau needs patience >= 1 (0 means no early stopping)")
        self.held_out, self.patience, self.min_improvement = held_out, patience, min_improvement
        self.min_epochs, self.max_epochs = min_epochs, max_epochs
        self.state = None if checkpoint is None else Path(checkpoint) / STATE_FILE
        self.losses: list[float] = self._read()
        self.stopped = False

    def _read(self) -> list[float]:
        """The held-out losses saved beside the checkpoint (none when there is no valid file)."""
        if self.state is None or not self.state.is_file():
            return []
        try:
            losses = json.loads(self.state.read_text(encoding="utf-8")).get("held_out")
        except (ValueError, AttributeError):
            return []
        numbers = isinstance(losses, list) and all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in losses
        )
        return [float(v) for v in losses] if numbers else []

    def __call__(self, done: int) -> bool:
        loss = float(self.held_out())
        self.losses = [*self.losses[: done - 1], loss]
        if self.state is not None and self.state.parent.is_dir() and world().is_main:
            write_json(self.state, {"held_out": self.losses})
        best = plateau_epoch(self.losses, self.patience, self.min_improvement)
        self.stopped = done >= self.min_epochs and done - best >= self.patience
        return self.stopped

    @property
    def record(self) -> dict[str, Any]:
        """Where training stopped and why: epochs trained, the maximum, the best epoch and its
        held-out loss, every epoch's held-out loss, and a one-line reason."""
        done = len(self.losses)
        best = plateau_epoch(self.losses, self.patience, self.min_improvement)
        if self.stopped:
            share = f"{100 * self.min_improvement:g} %"
            reason = (
                f"held-out loss plateaued: no improvement by more than {share} of the best "
                f"(epoch {best}) for {done - best} epochs"
            )
        else:
            reason = f"reached the maximum of {self.max_epochs} epochs"
        return {
            "epochs": done,
            "max_epochs": self.max_epochs,
            "min_epochs": self.min_epochs,
            "best_epoch": best,
            "best_held_out": self.losses[best - 1] if best else None,
            "held_out": list(self.losses),
            "reason": reason,
        }
