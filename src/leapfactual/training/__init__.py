"""The shared training loop with exactly resumable, pickle-free checkpoints."""

from leapfactual.training.checkpoint import (
    Resumed,
    fingerprint,
    load_checkpoint,
    save_checkpoint,
    tensor_digest,
)
from leapfactual.training.loop import StepFn, fit
from leapfactual.training.plateau import Plateau, check_patience, plateau_epoch

__all__ = [
    "Plateau",
    "Resumed",
    "StepFn",
    "check_patience",
    "fingerprint",
    "fit",
    "load_checkpoint",
    "plateau_epoch",
    "save_checkpoint",
    "tensor_digest",
]
