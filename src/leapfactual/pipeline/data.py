"""The data of a run: its spec resolved to absolute paths, its fingerprint, and loading it back.

A run records where its data came from with paths made absolute, so that it loads from any
working directory, and a fingerprint of the images and labels, so that data that changed
since the run was fitted is refused instead of silently explained with the old split.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from leapfactual.data import Dataset, load_dataset
from leapfactual.pipeline.settings import FitSettings
from leapfactual.training import tensor_digest

RESIZABLE = ("image-folder",)
"""Datasets read from image files: they take the run's image size and channels."""


def resolve_data_spec(spec: str) -> str:
    """``name:PATH`` with ``PATH`` made absolute when it exists on disk (nested specs such as
    ``thickness:idx:DIR`` too); other specs unchanged."""
    name, sep, rest = spec.strip().partition(":")
    if not sep:
        return spec.strip()
    path = Path(rest).expanduser()
    if path.exists():
        return f"{name}:{path.resolve()}"
    if ":" in rest:
        return f"{name}:{resolve_data_spec(rest)}"
    return spec.strip()


def data_fingerprint(data: Dataset) -> str:
    """SHA-256 (16 hex digits) of a dataset's images, labels and class names (and scalar
    values, when it has them)."""
    parts = [tensor_digest(data.images), tensor_digest(data.labels), *data.class_names]
    if data.values is not None:
        parts.append(tensor_digest(data.values))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def load_run_data(
    directory: Path, spec: str, recorded: dict[str, Any], config: FitSettings | None = None
) -> Dataset:
    """Load the dataset ``spec`` of the run in ``directory`` at the run's image shape.

    ``recorded``: the run's ``data`` record (shape, fingerprint) when it has one; ``config``
    gives the shape to read at while fitting. A missing or changed dataset gets an error that
    names the run file and the fix.
    """
    options: dict[str, Any] = {}
    name = spec.partition(":")[0].strip().lower()
    if name in RESIZABLE:
        shape = recorded.get("shape")
        size = (shape[1], shape[2]) if shape else (config.image_hw if config else None)
        channels = shape[0] if shape else (config.channels if config else None)
        options = {k: v for k, v in (("size", size), ("channels", channels)) if v is not None}
        options["aspect"] = config.aspect if config is not None else "pad"
    try:
        data = load_dataset(spec, **options)
    except (FileNotFoundError, NotADirectoryError) as err:
        if not recorded:
            raise
        raise FileNotFoundError(
            f"the data of run {directory} ({directory / 'run.json'}: data {spec!r}) cannot be "
            f"loaded ({' '.join(str(err).split())}); move it back, or hand it in "
            "(load_run(dir, dataset=...)); explaining your own images (--images) needs no "
            "training data"
        ) from err
    expected = recorded.get("fingerprint")
    if expected is not None and data_fingerprint(data) != expected:
        raise ValueError(
            f"the data {spec!r} of run {directory} changed since it was fitted (fingerprint "
            f"{data_fingerprint(data)}, recorded {expected}): the run's split and models no "
            "longer match it; restore the data or re-fit into a new directory"
        )
    return data


__all__ = ["data_fingerprint", "load_run_data", "resolve_data_spec"]
