"""Experiment trackers as callbacks: TensorBoard event files and MLflow runs.

Both record the same metrics under the same names: ``STAGE/loss`` (every optimiser step, at
its step), ``STAGE/epoch_loss`` and ``STAGE/lr`` (every epoch, at its epoch number), and
``explain/METHOD/validity`` (each batch's share of valid CEs, at the batch number). They open
their file or run on the first event and are closed by :meth:`close` (or a ``with`` block);
what they hold is written out at every epoch's end and at every explained batch (an MLflow
run left by an exception inside the ``with`` block is marked FAILED).
:func:`tracker` builds one from the command line's ``--track`` text.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from leapfactual._optional import require
from leapfactual.training.callbacks import Callback, ExplainBatch, TrainEpoch, TrainStep

PathLike = str | os.PathLike[str]
TRACKERS = ("tensorboard", "mlflow")
"""What ``--track KIND:WHERE`` names."""


class Tracker(Callback):
    """Sends each event's numbers to :meth:`record` and flushes at epoch and batch ends."""

    def on_train_batch(self, event: TrainStep) -> None:
        self.record({f"{event.stage}/loss": event.loss}, event.step)

    def on_train_epoch(self, event: TrainEpoch) -> None:
        numbers = {f"{event.stage}/epoch_loss": event.loss, f"{event.stage}/lr": event.lr}
        self.record(numbers, event.epoch)
        self.flush()

    def on_explain_batch(self, event: ExplainBatch) -> None:
        self.record({f"explain/{event.method}/validity": event.valid / event.size}, event.batch)
        self.flush()

    def record(self, numbers: dict[str, float], step: int) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        raise NotImplementedError

    def close(self, failed: bool = False) -> None:
        """Write out what is held and end (``failed``: the work it recorded raised)."""
        raise NotImplementedError

    def __enter__(self) -> Tracker:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close(failed=kind is not None)


class TensorBoardLogger(Tracker):
    """Scalars into TensorBoard event files in ``directory`` (``tensorboard --logdir
    DIRECTORY`` shows them). Needs ``leapfactual[tensorboard]``, checked when made."""

    def __init__(self, directory: PathLike) -> None:
        require("tensorboard", "tensorboard", "logging to TensorBoard")
        self.directory = Path(directory)
        self._writer: Any = None

    def record(self, numbers: dict[str, float], step: int) -> None:
        if self._writer is None:
            board = require("torch.utils.tensorboard", "tensorboard", "logging to TensorBoard")
            self._writer = board.SummaryWriter(str(self.directory))
        for name, value in numbers.items():
            self._writer.add_scalar(name, value, step)

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self, failed: bool = False) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class MLflowLogger(Tracker):
    """Metrics into one MLflow run of ``experiment`` at ``tracking_uri`` (a server's URL, a
    database such as ``sqlite:///runs/mlflow.db``; see :func:`mlflow_uri` for a directory).
    The run starts on the first event (``run_id`` then names it) and ends on :meth:`close`.
    Needs ``leapfactual[mlflow]``, checked when made."""

    def __init__(
        self, tracking_uri: str, experiment: str = "leapfactual", run_name: str | None = None
    ) -> None:
        self._tracking = require("mlflow.tracking", "mlflow", "logging to MLflow")
        self._entities = require("mlflow.entities", "mlflow", "logging to MLflow")
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.run_name = run_name
        self.run_id: str | None = None
        self._client: Any = None
        self._pending: list[Any] = []

    def record(self, numbers: dict[str, float], step: int) -> None:
        if self._client is None:
            self._start()
        now = int(time.time() * 1000)
        metric = self._entities.Metric
        self._pending += [metric(name, value, now, step) for name, value in numbers.items()]

    def _start(self) -> None:
        client = self._tracking.MlflowClient(tracking_uri=self.tracking_uri)
        found = client.get_experiment_by_name(self.experiment)
        experiment = found.experiment_id if found else client.create_experiment(self.experiment)
        self.run_id = client.create_run(experiment, run_name=self.run_name).info.run_id
        self._client = client

    def flush(self) -> None:
        for begin in range(0, len(self._pending), 1000):  # MLflow's limit per batch
            self._client.log_batch(self.run_id, metrics=self._pending[begin : begin + 1000])
        self._pending = []

    def close(self, failed: bool = False) -> None:
        """End the run: FINISHED, or FAILED when the work raised."""
        if self._client is not None:
            self.flush()
            self._client.set_terminated(self.run_id, "FAILED" if failed else "FINISHED")
            self._client = None


def mlflow_uri(where: str) -> str:
    """An MLflow tracking URI for ``where``: a URI (``scheme://...``) as given; a directory
    becomes an SQLite store in it (``DIR/mlflow.db``, made if missing), which MLflow reads
    with ``mlflow ui --backend-store-uri sqlite:///DIR/mlflow.db``."""
    if "://" in where:
        return where
    folder = Path(where).expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'mlflow.db'}"


def tracker(spec: str) -> Tracker:
    """The tracker ``--track`` names: ``tensorboard:DIR`` or ``mlflow:DIR`` / ``mlflow:URI``."""
    kind, _, where = spec.partition(":")
    if kind not in TRACKERS or not where.strip():
        raise ValueError(
            f"--track takes tensorboard:DIR or mlflow:DIR (or mlflow:URI), got {spec!r}"
        )
    if kind == "tensorboard":
        folder = Path(where)
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"--track {spec}: {folder} is a file; name a directory")
        return TensorBoardLogger(folder)
    if "://" not in where and Path(where).exists() and not Path(where).is_dir():
        raise ValueError(f"--track {spec}: {where} is a file; name a directory")
    return MLflowLogger(mlflow_uri(where))
