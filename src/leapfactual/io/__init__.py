"""Storage: safetensors tensors with a JSON sidecar, written atomically."""

from leapfactual.io.files import (
    CheckpointError,
    atomic_write_bytes,
    atomic_write_text,
    import_torch_state_dict,
    load_tensors,
    save_tensors,
)
from leapfactual.io.modules import MODULE_TYPES, load_module, register, save_module

__all__ = [
    "MODULE_TYPES",
    "CheckpointError",
    "atomic_write_bytes",
    "atomic_write_text",
    "import_torch_state_dict",
    "load_module",
    "load_tensors",
    "register",
    "save_module",
    "save_tensors",
]
