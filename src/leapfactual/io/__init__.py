"""Storage: safetensors tensors with a JSON sidecar, written atomically."""

from leapfactual.io.directories import (
    LOCK_NAME,
    DirectoryBusyError,
    check_free,
    clear,
    exclusive,
    subdirectory,
)
from leapfactual.io.files import (
    CheckpointError,
    atomic_write_bytes,
    atomic_write_text,
    check_tensors,
    file_sha256,
    import_torch_state_dict,
    json_text,
    load_tensors,
    parse_json,
    read_sidecar,
    save_tensors,
    write_json,
    write_tensors,
)
from leapfactual.io.images import data_uri, encoded, pillow, png_bytes, png_data_uri, tile, to_uint8
from leapfactual.io.mapped import Rows, TensorFile
from leapfactual.io.modules import MODULE_TYPES, load_module, register, save_module

__all__ = [
    "LOCK_NAME",
    "MODULE_TYPES",
    "CheckpointError",
    "DirectoryBusyError",
    "Rows",
    "TensorFile",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_free",
    "check_tensors",
    "clear",
    "data_uri",
    "encoded",
    "exclusive",
    "file_sha256",
    "import_torch_state_dict",
    "json_text",
    "load_module",
    "load_tensors",
    "parse_json",
    "pillow",
    "png_bytes",
    "png_data_uri",
    "read_sidecar",
    "register",
    "save_module",
    "save_tensors",
    "subdirectory",
    "tile",
    "to_uint8",
    "write_json",
    "write_tensors",
]
