"""The shared training loop with exactly resumable, pickle-free checkpoints."""

from leapfactual.training.checkpoint import (
    Resumed,
    fingerprint,
    load_checkpoint,
    save_checkpoint,
    tensor_digest,
)
from leapfactual.training.loop import StepFn, fit

__all__ = [
    "Resumed",
    "StepFn",
    "fingerprint",
    "fit",
    "load_checkpoint",
    "save_checkpoint",
    "tensor_digest",
]
