"""Preprocessing that travels with a model: how images in [0, 1] become what it takes.

Every model the library calls takes float images ``[B, C, H, W]`` in ``[0, 1]``. A model made
elsewhere usually expects something else: ImageNet mean and standard deviation (timm), mean
and std 0.5 (many Hugging Face processors), pixels in ``[0, 255]`` with its own offset (a face
detector's ``(x*255 - 127.5) / 128``), BGR channels, a fixed input size, or flat vectors
(scikit-learn). :class:`Preprocess` says which, in this order:

1. ``value_range = (low, high)``: ``x -> low + x * (high - low)``;
2. ``channel_order = "bgr"``: the channels reversed;
3. ``size = (H, W)``: bilinear resize (antialiased when shrinking);
4. ``mean`` / ``std`` (one value, or one per channel): ``x -> (x - mean) / std``;
5. ``flatten``: ``[B, C, H, W] -> [B, C*H*W]``.

A field left at None keeps the image as it is in that respect; :meth:`Preprocess.over` lays
the fields someone set over those a model's own configuration gives
(:func:`from_hf_processor`, :func:`from_timm_config`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch loads on first use: settings parse without it
    from torch import Tensor

CHANNEL_ORDERS = ("rgb", "bgr")
HF_PROCESSOR_FILES = ("preprocessor_config.json", "image_processor_config.json")
"""Where a Hugging Face model directory keeps its image processor's settings."""


@dataclass(frozen=True)
class Preprocess:
    """How images in [0, 1] become a model's inputs (module docstring); None: unchanged."""

    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    size: tuple[int, ...] | None = None
    channel_order: str | None = None
    value_range: tuple[float, ...] | None = None
    flatten: bool = False

    def __post_init__(self) -> None:
        where = "classifier.preprocess"
        for name in ("mean", "std", "value_range"):
            values = getattr(self, name)
            if values is not None and not (
                values and all(isinstance(v, int | float) and math.isfinite(v) for v in values)
            ):
                raise ValueError(f"{where}.{name} must be finite numbers, got {values!r}")
        if self.std is not None and min(self.std) <= 0:
            raise ValueError(f"{where}.std must be positive, got {self.std!r}")
        if self.value_range is not None and not (
            len(self.value_range) == 2 and self.value_range[0] < self.value_range[1]
        ):
            raise ValueError(
                f"{where}.value_range must be [low, high] with low < high (e.g. [0, 255]), "
                f"got {self.value_range!r}"
            )
        if self.size is not None and not (
            len(self.size) == 2 and all(isinstance(s, int) and s >= 1 for s in self.size)
        ):
            raise ValueError(f"{where}.size must be [height, width] in pixels, got {self.size!r}")
        if self.channel_order is not None and self.channel_order not in CHANNEL_ORDERS:
            raise ValueError(
                f"unknown {where}.channel_order {self.channel_order!r}; choose one of "
                f"{list(CHANNEL_ORDERS)}"
            )

    @property
    def identity(self) -> bool:
        """Whether it leaves images as they are."""
        return self.resolved() == Preprocess().resolved()

    def resolved(self) -> dict[str, Any]:
        """Every field with what None means filled in (what :meth:`apply` does), as JSON-ready
        data: recorded in a run."""
        return {
            "mean": list(self.mean or (0.0,)),
            "std": list(self.std or (1.0,)),
            "size": None if self.size is None else list(self.size),
            "channel_order": self.channel_order or "rgb",
            "value_range": list(self.value_range or (0.0, 1.0)),
            "flatten": self.flatten,
        }

    def over(self, base: Preprocess) -> Preprocess:
        """``base`` (a model's own configuration) with every field set here laid over it."""
        given = {f.name: getattr(self, f.name) for f in fields(self)}
        given = {k: v for k, v in given.items() if v is not None and v is not False}
        return replace(base, **given)

    def check_channels(self, channels: int) -> None:
        """Raise unless ``mean`` / ``std`` fit ``channels``-channel images (one value each, or
        one per channel), and ``bgr`` has three channels."""
        for name in ("mean", "std"):
            values = getattr(self, name)
            if values is not None and len(values) not in (1, channels):
                raise ValueError(
                    f"classifier.preprocess.{name} has {len(values)} values, but the images "
                    f"have {channels} channel(s); give one value or one per channel"
                )
        if self.channel_order == "bgr" and channels != 3:
            raise ValueError(
                f"classifier.preprocess.channel_order = 'bgr' reorders 3 colour channels, but "
                f"the images have {channels}; read them as RGB (--channels 3) or drop it"
            )

    def apply(self, x: Tensor) -> Tensor:
        """``x`` ``[B, C, H, W]`` in [0, 1] as the model takes it."""
        if self.value_range is not None:
            low, high = self.value_range
            x = x * (high - low) + low
        if self.channel_order == "bgr":
            x = x.flip(1)
        if self.size is not None and tuple(x.shape[-2:]) != tuple(self.size):
            shrink = self.size[0] < x.shape[-2] or self.size[1] < x.shape[-1]
            from torch.nn import functional as F

            x = F.interpolate(
                x, size=tuple(self.size), mode="bilinear", align_corners=False, antialias=shrink
            )
        if self.mean is not None:
            x = x - _per_channel(self.mean, x)
        if self.std is not None:
            x = x / _per_channel(self.std, x)
        if self.flatten:
            x = x.flatten(1)
        return x

    def describe(self) -> str:
        """One line: what is done to the images (``none`` when nothing)."""
        if self.identity:
            return "none"
        done = {k: v for k, v in asdict(self).items() if v not in (None, False)}
        return ", ".join(f"{k}={list(v) if isinstance(v, tuple) else v}" for k, v in done.items())


def _per_channel(values: Sequence[float], x: Tensor) -> Tensor:
    import torch

    return torch.tensor(values, dtype=x.dtype, device=x.device).reshape(1, -1, 1, 1)


# -- what models ship -------------------------------------------------------------------------
def from_hf_processor(directory: str | Path) -> Preprocess:
    """The preprocessing a Hugging Face model directory's image processor config states
    (``preprocessor_config.json``): ``do_rescale`` / ``rescale_factor`` give the value range
    (pixels 0-255 times the factor), ``do_normalize`` ``image_mean`` / ``image_std``,
    ``do_resize`` ``size`` (``height`` / ``width``, or ``shortest_edge`` as a square).
    A directory without one gives :class:`Preprocess` () (nothing)."""
    folder = Path(directory)
    file = next((folder / n for n in HF_PROCESSOR_FILES if (folder / n).is_file()), None)
    if file is None:
        return Preprocess()
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{file} is not valid JSON ({err}); restore the file") from err
    if not isinstance(config, Mapping):
        raise ValueError(f"{file} is not a JSON object; restore the file")
    values: dict[str, Any] = {}
    if config.get("do_rescale", True):
        factor = float(config.get("rescale_factor", 1 / 255))
        if not math.isclose(factor * 255, 1.0, rel_tol=1e-6):
            values["value_range"] = (0.0, 255 * factor)
    else:
        values["value_range"] = (0.0, 255.0)
    if config.get("do_normalize", True) and config.get("image_mean") is not None:
        values["mean"] = _numbers(config["image_mean"], file, "image_mean")
        values["std"] = _numbers(config.get("image_std", [1.0]), file, "image_std")
    size = config.get("size") if config.get("do_resize", True) else None
    if isinstance(size, Mapping) and {"height", "width"} <= set(size):
        values["size"] = (int(size["height"]), int(size["width"]))
    elif isinstance(size, Mapping) and "shortest_edge" in size:
        values["size"] = (int(size["shortest_edge"]),) * 2
    elif isinstance(size, int):
        values["size"] = (size, size)
    try:
        return Preprocess(**values)
    except ValueError as err:
        raise ValueError(f"{file} states preprocessing leapfactual cannot apply: {err}") from err


def from_timm_config(config: Mapping[str, Any]) -> Preprocess:
    """The preprocessing of a timm model's ``pretrained_cfg``: ``mean``, ``std`` and
    ``input_size`` ``(C, H, W)``."""
    values: dict[str, Any] = {}
    for name in ("mean", "std"):
        if config.get(name) is not None:
            values[name] = _numbers(config[name], "the timm pretrained_cfg", name)
    size = config.get("input_size")
    if isinstance(size, Sequence) and len(size) == 3:
        values["size"] = (int(size[1]), int(size[2]))
    return Preprocess(**values)


def _numbers(values: Any, where: object, name: str) -> tuple[float, ...]:
    items = values if isinstance(values, list | tuple) else [values]
    if not items or not all(isinstance(v, int | float) for v in items):
        raise ValueError(f"{where}: {name} must be numbers, got {values!r}; restore the file")
    return tuple(float(v) for v in items)


__all__ = [
    "CHANNEL_ORDERS",
    "Preprocess",
    "from_hf_processor",
    "from_timm_config",
]
