"""The shared training loop with exactly resumable, pickle-free checkpoints, its callbacks
and the experiment trackers built on them."""

from typing import TYPE_CHECKING

from leapfactual._lazy import lazy_face

if TYPE_CHECKING:
    from leapfactual.training.callbacks import (
        Callback,
        ExplainBatch,
        TrainEpoch,
        TrainStep,
        active_callbacks,
        attached,
    )
    from leapfactual.training.checkpoint import (
        Resumed,
        fingerprint,
        load_checkpoint,
        save_checkpoint,
        tensor_digest,
    )
    from leapfactual.training.loop import StepFn, fit
    from leapfactual.training.options import check_patience
    from leapfactual.training.plateau import Plateau, plateau_epoch
    from leapfactual.training.tracking import (
        TRACKERS,
        MLflowLogger,
        TensorBoardLogger,
        Tracker,
        mlflow_uri,
        tracker,
    )

__all__ = [
    "TRACKERS",
    "Callback",
    "ExplainBatch",
    "MLflowLogger",
    "Plateau",
    "Resumed",
    "StepFn",
    "TensorBoardLogger",
    "Tracker",
    "TrainEpoch",
    "TrainStep",
    "active_callbacks",
    "attached",
    "check_patience",
    "fingerprint",
    "fit",
    "load_checkpoint",
    "mlflow_uri",
    "plateau_epoch",
    "save_checkpoint",
    "tensor_digest",
    "tracker",
]

lazy_face(__name__, light=("options",))
