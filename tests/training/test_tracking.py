"""TensorBoard and MLflow trackers: what they record is read back with each tool's own
reader (TensorBoard's event accumulator, MLflow's client on a local store)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from leapfactual.training import (
    ExplainBatch,
    MLflowLogger,
    TensorBoardLogger,
    TrainEpoch,
    TrainStep,
    mlflow_uri,
    tracker,
)

EVENTS = [
    TrainStep("vae", 1, 1, 0.9, 0.01),
    TrainStep("vae", 1, 2, 0.7, 0.01),
    TrainEpoch("vae", 1, 2, 2, 0.8, 0.01),
    TrainStep("vae", 2, 3, 0.5, 0.001),
    TrainEpoch("vae", 2, 2, 3, 0.5, 0.001),
    ExplainBatch("leapfactual", 1, 2, 4, 3, 4, 6, 0.1),
    ExplainBatch("leapfactual", 2, 2, 2, 2, 6, 6, 0.2),
]
EXPECTED = {
    "vae/loss": [(1, 0.9), (2, 0.7), (3, 0.5)],
    "vae/epoch_loss": [(1, 0.8), (2, 0.5)],
    "vae/lr": [(1, 0.01), (2, 0.001)],
    "explain/leapfactual/validity": [(1, 0.75), (2, 1.0)],
}


def send(logger: TensorBoardLogger | MLflowLogger) -> None:
    with logger:
        for event in EVENTS:
            if isinstance(event, TrainStep):
                logger.on_train_batch(event)
            elif isinstance(event, TrainEpoch):
                logger.on_train_epoch(event)
            else:
                logger.on_explain_batch(event)


def test_tensorboard_event_files_read_back(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    send(TensorBoardLogger(tmp_path / "tb"))
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    assert sorted(events.Tags()["scalars"]) == sorted(EXPECTED)
    for tag, points in EXPECTED.items():
        got = [(s.step, s.value) for s in events.Scalars(tag)]
        assert got == [(step, pytest.approx(value)) for step, value in points]


def test_mlflow_run_reads_back_from_a_local_store(monkeypatch, tmp_path: Path) -> None:
    """A file store (MLflow 3 asks for MLFLOW_ALLOW_FILE_STORE; a directory given to
    ``--track`` becomes an SQLite store, whose first use costs seconds of table set-up)."""
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "ml").as_uri()
    logger = MLflowLogger(uri, experiment="tests", run_name="tiny")
    send(logger)
    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(logger.run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "tiny"
    for key, points in EXPECTED.items():
        got = sorted((m.step, m.value) for m in client.get_metric_history(logger.run_id, key))
        assert got == [(step, pytest.approx(value)) for step, value in points]


def test_an_mlflow_run_left_by_an_exception_is_failed(monkeypatch, tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "ml").as_uri()
    logger = MLflowLogger(uri)
    with pytest.raises(KeyboardInterrupt), logger:
        logger.on_train_epoch(EVENTS[2])  # type: ignore[arg-type]
        raise KeyboardInterrupt
    run = MlflowClient(tracking_uri=uri).get_run(logger.run_id)
    assert run.info.status == "FAILED" and run.data.metrics["vae/epoch_loss"] == 0.8


def test_a_directory_becomes_an_sqlite_store_and_a_uri_stays(tmp_path: Path) -> None:
    assert (
        mlflow_uri(str(tmp_path / "ml")) == f"sqlite:///{tmp_path.resolve() / 'ml' / 'mlflow.db'}"
    )
    assert (tmp_path / "ml").is_dir()
    assert mlflow_uri("http://127.0.0.1:5000") == "http://127.0.0.1:5000"


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("wandb:runs", r"--track takes tensorboard:DIR or mlflow:DIR .* got 'wandb:runs'"),
        ("tensorboard:", r"--track takes tensorboard:DIR .* got 'tensorboard:'"),
        ("tensorboard", r"--track takes tensorboard:DIR .* got 'tensorboard'"),
    ],
)
def test_a_bad_track_spec_is_refused(spec: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        tracker(spec)


def test_a_track_spec_naming_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    for kind in ("tensorboard", "mlflow"):
        with pytest.raises(ValueError, match=rf"--track {kind}:.*f is a file; name a directory"):
            tracker(f"{kind}:{tmp_path / 'f'}")
    assert isinstance(tracker(f"tensorboard:{tmp_path / 'tb'}"), TensorBoardLogger)
    assert isinstance(tracker("mlflow:http://127.0.0.1:5000"), MLflowLogger)


@pytest.mark.parametrize(("module", "kind"), [("tensorboard", "tensorboard"), ("mlflow", "mlflow")])
def test_a_missing_tracker_package_names_its_extra(monkeypatch, tmp_path, module, kind) -> None:
    for name in [m for m in sys.modules if m == module or m.startswith(f"{module}.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ImportError, match=rf"pip install 'leapfactual\[{kind}\]'$"):
        tracker(f"{kind}:{tmp_path}")
