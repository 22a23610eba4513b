"""Storage: safetensors tensors with a JSON sidecar, written atomically."""

from leapfactual.io.files import (
    CheckpointError,
    atomic_write_bytes,
    atomic_write_text,
    load_tensors,
    save_tensors,
)

__all__ = [
    "CheckpointError",
    "atomic_write_bytes",
    "atomic_write_text",
    "load_tensors",
    "save_tensors",
]
