"""One front door for every dataset: ``load_dataset("name")`` or ``load_dataset("name:path")``."""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from leapfactual.data.builtin import load_digits, load_mnist5k
from leapfactual.data.confounded import load_confounded, load_confounded_test
from leapfactual.data.dataset import Dataset
from leapfactual.data.folder import load_image_folder
from leapfactual.data.galaxy10 import load_galaxy10
from leapfactual.data.idx import load_fashion_mnist, load_idx
from leapfactual.data.stroke import load_stroke_thickness
from leapfactual.data.thickness import load_thickness


@dataclass(frozen=True)
class _Entry:
    load: Callable[..., Dataset]
    path: Literal["none", "optional", "required"]
    usage: str
    summary: str


_LOADERS: dict[str, _Entry] = {
    "mnist5k": _Entry(
        load_mnist5k, "none", "mnist5k", "5,000 real MNIST digits shipped in the package (default)"
    ),
    "digits": _Entry(load_digits, "none", "digits", "scikit-learn's 1,797 8x8 digits"),
    "fashion-mnist": _Entry(
        load_fashion_mnist,
        "optional",
        "fashion-mnist[:DIR]",
        "Fashion-MNIST IDX files (default /usr/share/datasets/fashion-mnist)",
    ),
    "idx": _Entry(
        load_idx, "required", "idx:DIR", "MNIST-format IDX files (MNIST, Morpho-MNIST, ...)"
    ),
    "image-folder": _Entry(
        load_image_folder,
        "required",
        "image-folder:DIR",
        "PNG/JPEG files in one sub-folder per class",
    ),
    "galaxy10": _Entry(
        load_galaxy10,
        "required",
        "galaxy10:FILE.h5",
        "Galaxy10 DECaLS HDF5 file (Galaxy10_DECals.h5)",
    ),
    "confounded": _Entry(
        load_confounded,
        "optional",
        "confounded[:BASE]",
        "digits of BASE (default mnist5k) with a bright patch on 95 % of the 8s: a shortcut",
    ),
    "confounded-test": _Entry(
        load_confounded_test,
        "optional",
        "confounded-test[:BASE]",
        "the decorrelated test digits of confounded[:BASE] (the patch on half of every class)",
    ),
    "thickness": _Entry(
        load_thickness,
        "optional",
        "thickness[:BASE]",
        "thin vs thick digits made by intervening on BASE (a dataset spec, default mnist5k), "
        "with true counterfactuals",
    ),
    "stroke-thickness": _Entry(
        load_stroke_thickness,
        "optional",
        "stroke-thickness[:BASE]",
        "digits of BASE (default mnist5k) set to a stroke thickness of 1.5-4.5 px, that "
        "thickness their scalar value (for a regressor), with true counterfactuals",
    ),
}

DEFAULT_DATASET = "mnist5k"


def available_datasets() -> dict[str, str]:
    """Each spec form ``load_dataset`` accepts (e.g. ``"idx:DIR"``), what it loads and its
    options."""
    return {
        entry.usage: f"{entry.summary}; options: {', '.join(_options(entry)) or 'none'}"
        for entry in _LOADERS.values()
    }


def load_dataset(
    spec: str = DEFAULT_DATASET,
    *,
    image_size: int | None = None,
    channels: int | None = None,
    **options: Any,
) -> Dataset:
    """Load a dataset named by ``spec``: ``"name"`` or ``"name:path"``.

    >>> data = load_dataset("mnist5k")                              # doctest: +SKIP
    >>> data = load_dataset("fashion-mnist", split="test")          # doctest: +SKIP
    >>> data = load_dataset("image-folder:photos/", size=64, channels=3)  # doctest: +SKIP

    ``options`` go to the loader (:func:`available_datasets` lists each one's options).
    ``image_size`` and ``channels`` (the run's settings; ``None``: as the data are) go to the
    loaders that take ``size`` / ``channels`` (``image-folder``, ``galaxy10``'s ``size``);
    any other dataset must already have them, else a ``ValueError`` says so.
    """
    for option, value in (("image_size", image_size), ("channels", channels)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1
        ):
            raise ValueError(f"{option} must be a positive integer or None, got {value!r}")
    if image_size is not None and "size" in options:
        raise ValueError(
            f"give the image size once: image_size={image_size} or size={options['size']}"
        )
    name, sep, path = spec.strip().partition(":")
    name = name.strip().lower()
    entry = _LOADERS.get(name)
    if entry is None:
        known = ", ".join(e.usage for e in _LOADERS.values())
        raise ValueError(f"unknown dataset {name!r} in spec {spec!r}; known datasets: {known}")
    if sep and not path.strip():
        raise ValueError(f"spec {spec!r} has an empty path after ':'; use {entry.usage!r}")
    if entry.path == "none" and sep:
        raise ValueError(f"dataset {name!r} is built in and takes no path; use {name!r}")
    if entry.path == "required" and not sep:
        raise ValueError(f"dataset {name!r} needs a path; use {entry.usage!r}")
    unknown = sorted(set(options) - set(_options(entry)))
    if unknown:
        raise ValueError(
            f"dataset {name!r} takes no option {unknown[0]!r}; its options are: "
            f"{', '.join(_options(entry)) or 'none'}"
        )
    for key, value in (("size", image_size), ("channels", channels)):
        if value is not None and key in _options(entry):
            options[key] = value
    data = entry.load(path.strip(), **options) if sep else entry.load(**options)
    want = (channels or data.shape[0], image_size or data.shape[1], image_size or data.shape[2])
    if data.shape != want:
        raise ValueError(
            f"dataset {spec!r} has images of {'x'.join(map(str, data.shape))} (channels x "
            f"height x width), not the {'x'.join(map(str, want))} asked for, and {name!r} cannot "
            "resize or recolour them; leave image_size / channels unset to take them from the data"
        )
    return data


def _options(entry: _Entry) -> list[str]:
    """The loader's keyword options (its first parameter is the path, when it takes one)."""
    names = list(inspect.signature(entry.load).parameters)
    return names if entry.path == "none" else names[1:]
