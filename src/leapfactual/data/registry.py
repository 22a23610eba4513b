"""One front door for every dataset: ``load_dataset("name")`` or ``load_dataset("name:path")``.

The registry is open: :func:`register_dataset` adds a loader (a plugin package does it from
its ``leapfactual.plugins`` entry point, read on the first lookup). A *derived* dataset
(``path="base"``) is made from another one: its spec's path is that dataset's spec (default
``mnist5k``), which the registry loads and hands to the loader as a :class:`Dataset`; derived
datasets are built once per process for each base spec and options.
"""

from __future__ import annotations

import inspect
import numbers
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from leapfactual._plugins import load_plugins
from leapfactual.data.builtin import load_digits, load_mnist5k
from leapfactual.data.confounded import load_confounded, load_confounded_test
from leapfactual.data.dataset import Dataset
from leapfactual.data.folder import load_image_folder
from leapfactual.data.galaxy10 import load_galaxy10
from leapfactual.data.idx import load_fashion_mnist, load_idx
from leapfactual.data.stroke import load_stroke_thickness
from leapfactual.data.thickness import load_thickness

PathKind = Literal["none", "optional", "required", "base"]
"""What follows ``name:`` in a spec: nothing allowed, an optional or a required path, or the
spec of a base dataset (``base``: derived datasets)."""


@dataclass(frozen=True)
class _Entry:
    load: Callable[..., Dataset]
    path: PathKind
    usage: str
    summary: str


_LOADERS: dict[str, _Entry] = {}
_DERIVED: OrderedDict[tuple[str, str, str], Dataset] = OrderedDict()
_DERIVED_KEPT = 4


def register_dataset(
    name: str,
    loader: Callable[..., Dataset],
    *,
    path: PathKind = "none",
    summary: str = "",
    usage: str | None = None,
    replace: bool = False,
) -> None:
    """Make ``load_dataset("name...")`` call ``loader``.

    ``path`` says what may follow ``name:``: ``"none"``, ``"optional"`` or ``"required"``
    (then ``loader(path, **options)``), or ``"base"`` for a dataset derived from another one
    (``loader(base_dataset, **options)``, the base named by the spec's path, default
    ``mnist5k``). The loader's other keyword parameters are the dataset's options. ``usage``
    is the spec form shown in listings (default from ``name`` and ``path``). A name already
    taken is refused unless ``replace``."""
    key = name.strip().lower()
    if not key or ":" in key or key != name:
        raise ValueError(f"dataset name {name!r} must be lower-case, without spaces or ':'")
    if path not in ("none", "optional", "required", "base"):
        raise ValueError(f"path must be none, optional, required or base, got {path!r}")
    if not callable(loader):
        raise ValueError(f"the loader of dataset {name!r} must be callable")
    if key in _LOADERS and not replace:
        raise ValueError(f"dataset {name!r} is already registered; pass replace=True to override")
    forms = {"none": key, "optional": f"{key}[:PATH]", "required": f"{key}:PATH"}
    default_usage = forms.get(path, f"{key}[:BASE]")
    _LOADERS[key] = _Entry(loader, path, usage or default_usage, summary)
    for cached in [k for k in _DERIVED if k[0] == key]:
        del _DERIVED[cached]


register_dataset(
    "mnist5k",
    load_mnist5k,
    summary="5,000 real MNIST digits shipped in the package (default)",
)
register_dataset("digits", load_digits, summary="scikit-learn's 1,797 8x8 digits")
register_dataset(
    "fashion-mnist",
    load_fashion_mnist,
    path="optional",
    usage="fashion-mnist[:DIR]",
    summary="Fashion-MNIST IDX files (default /usr/share/datasets/fashion-mnist)",
)
register_dataset(
    "idx",
    load_idx,
    path="required",
    usage="idx:DIR",
    summary="MNIST-format IDX files (MNIST, Morpho-MNIST, ...)",
)
register_dataset(
    "image-folder",
    load_image_folder,
    path="required",
    usage="image-folder:DIR",
    summary="PNG/JPEG files in one sub-folder per class",
)
register_dataset(
    "galaxy10",
    load_galaxy10,
    path="required",
    usage="galaxy10:FILE.h5",
    summary="Galaxy10 DECaLS HDF5 file (Galaxy10_DECals.h5)",
)
register_dataset(
    "confounded",
    load_confounded,
    path="base",
    summary="digits of BASE (default mnist5k) with a bright patch on 95 % of the 8s: a shortcut",
)
register_dataset(
    "confounded-test",
    load_confounded_test,
    path="base",
    summary="the decorrelated test digits of confounded[:BASE] (the patch on half of every class)",
)
register_dataset(
    "thickness",
    load_thickness,
    path="base",
    summary="thin vs thick digits made by intervening on BASE (a dataset spec, default "
    "mnist5k), with true counterfactuals",
)
register_dataset(
    "stroke-thickness",
    load_stroke_thickness,
    path="base",
    summary="digits of BASE (default mnist5k) set to a stroke thickness of 1.5-4.5 px, that "
    "thickness their scalar value (for a regressor), with true counterfactuals",
)

DEFAULT_DATASET = "mnist5k"


def available_datasets() -> dict[str, str]:
    """Each spec form ``load_dataset`` accepts (e.g. ``"idx:DIR"``), what it loads and its
    options."""
    load_plugins()
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
    load_plugins()
    name, sep, path = spec.strip().partition(":")
    name = name.strip().lower()
    entry = _LOADERS.get(name)
    if entry is None:
        known = ", ".join(e.usage for e in _LOADERS.values())
        raise ValueError(f"unknown dataset {name!r} in spec {spec!r}; known datasets: {known}")
    if sep and not path.strip():
        raise ValueError(f"spec {spec!r} has an empty path after ':'; use {entry.usage!r}")
    if entry.path == "none" and sep:
        raise ValueError(f"dataset {name!r} takes no path; use {name!r}")
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
    if entry.path == "base":
        data = _derived(name, entry, path.strip() if sep else DEFAULT_DATASET, options)
    else:
        data = entry.load(path.strip(), **options) if sep else entry.load(**options)
    want = (channels or data.shape[0], image_size or data.shape[1], image_size or data.shape[2])
    if data.shape != want:
        raise ValueError(
            f"dataset {spec!r} has images of {'x'.join(map(str, data.shape))} (channels x "
            f"height x width), not the {'x'.join(map(str, want))} asked for, and {name!r} cannot "
            "resize or recolour them; leave image_size / channels unset to take them from the data"
        )
    return data


def _derived(name: str, entry: _Entry, base: str, options: dict[str, Any]) -> Dataset:
    """``entry`` on the dataset ``base`` names, built once per (name, base, options)."""
    key = (name, base, repr(sorted(options.items())))
    if key not in _DERIVED:
        _DERIVED[key] = entry.load(load_dataset(base), **options)
        while len(_DERIVED) > _DERIVED_KEPT:
            _DERIVED.popitem(last=False)
    _DERIVED.move_to_end(key)
    return _DERIVED[key]


def _options(entry: _Entry) -> list[str]:
    """The loader's keyword options (its first parameter is the path or the base dataset,
    when it takes one)."""
    names = list(inspect.signature(entry.load).parameters)
    return names if entry.path == "none" else names[1:]
