"""The one in-memory dataset type every loader returns."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """Labelled images in memory.

    - ``images``: float32 ``[N, C, H, W]`` with values in ``[0, 1]``.
    - ``labels``: int64 ``[N]`` with values in ``[0, num_classes - 1]``.
    - ``class_names``: one unique name per class; ``class_names[k]`` names label ``k``.
    - ``name``: where the data came from (``"mnist5k"``, a folder's name, ...).
    - ``values``: optional float32 ``[N]`` scalar labels (finite), what a regressor learns
      (e.g. each digit's measured stroke thickness).

    Everything is checked on construction, so a ``Dataset`` in hand is always well formed.
    """

    images: Tensor
    labels: Tensor
    class_names: list[str]
    name: str = "dataset"
    values: Tensor | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "class_names", [str(c) for c in self.class_names])
        _check_images(self.images)
        _check_labels(self.labels, self.images, self.class_names)
        if self.values is not None:
            _check_values(self.values, self.labels)

    def __len__(self) -> int:
        return self.images.shape[0]

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, {len(self)} images of shape {self.shape}, "
            f"{self.num_classes} classes)"
        )

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def shape(self) -> tuple[int, int, int]:
        """The shape ``(C, H, W)`` of one image."""
        c, h, w = self.images.shape[1:]
        return (c, h, w)

    def subset(self, indices: Tensor | Sequence[int]) -> Dataset:
        """The images at ``indices`` (integer indices or a boolean mask of length ``N``).

        All classes are kept in ``class_names``, even those with no image in the subset.
        """
        index = torch.as_tensor(indices)
        if index.dtype == torch.bool:
            if index.shape != (len(self),):
                raise ValueError(
                    f"a boolean mask must have shape ({len(self)},) for this dataset, got "
                    f"{tuple(index.shape)}"
                )
            index = index.nonzero().flatten()
        elif index.numel() == 0:
            index = index.long()
        if index.dim() != 1 or index.is_floating_point():
            raise ValueError(
                f"indices must be a 1-D sequence of integers or a boolean mask, got shape "
                f"{tuple(index.shape)} and dtype {index.dtype}"
            )
        index = index.long().to(self.labels.device)
        if index.numel() and (index.min() < -len(self) or index.max() >= len(self)):
            raise IndexError(
                f"indices range from {int(index.min())} to {int(index.max())}, but the dataset "
                f"{self.name!r} has {len(self)} images"
            )
        values = None if self.values is None else self.values[index]
        return Dataset(
            self.images[index], self.labels[index], list(self.class_names), self.name, values
        )


def images_from_uint8(array: np.ndarray | Tensor, channels_last: bool = False) -> Tensor:
    """Convert 8-bit images ``[N, H, W]`` (or ``[N, H, W, C]`` when ``channels_last``, else
    ``[N, C, H, W]``) to float32 ``[N, C, H, W]`` in ``[0, 1]``."""
    tensor = torch.as_tensor(array)
    if tensor.dtype != torch.uint8:
        raise ValueError(f"expected 8-bit (uint8) images, got dtype {tensor.dtype}")
    if tensor.dim() == 3:
        tensor = tensor.unsqueeze(1)
    elif tensor.dim() == 4 and channels_last:
        tensor = tensor.permute(0, 3, 1, 2)
    elif tensor.dim() != 4:
        raise ValueError(f"expected images [N, H, W] or with channels, got {tuple(tensor.shape)}")
    return tensor.to(torch.float32).div_(255.0).contiguous()


def _check_images(images: Tensor) -> None:
    if not isinstance(images, Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if images.dim() != 4:
        raise ValueError(
            f"images must have shape [N, C, H, W], got {tuple(images.shape)}; add a channel "
            "axis to grey images with images.unsqueeze(1)"
        )
    if images.dtype != torch.float32:
        raise ValueError(
            f"images must be float32, got {images.dtype}; convert 8-bit images with "
            "images.float() / 255"
        )
    if images.numel() == 0:
        return
    # aminmax propagates NaN and allocates nothing the size of the images (isfinite would)
    low, high = (float(v) for v in torch.aminmax(images))
    if math.isnan(low) or math.isnan(high):
        raise ValueError("images contain NaN values")
    if low < 0.0 or high > 1.0:
        hint = " (they look like 0-255 values: divide by 255)" if low >= 0 and high <= 255 else ""
        raise ValueError(f"images must lie in [0, 1], got values in [{low}, {high}]{hint}")


def _check_labels(labels: Tensor, images: Tensor, class_names: list[str]) -> None:
    if not isinstance(labels, Tensor):
        raise TypeError(f"labels must be a torch.Tensor, got {type(labels).__name__}")
    if labels.dim() != 1 or labels.dtype != torch.int64:
        raise ValueError(
            f"labels must be a 1-D int64 tensor, got shape {tuple(labels.shape)} and dtype "
            f"{labels.dtype}; convert with labels.long()"
        )
    if labels.shape[0] != images.shape[0]:
        raise ValueError(f"got {labels.shape[0]} labels for {images.shape[0]} images")
    if labels.device != images.device:
        raise ValueError(f"images are on {images.device} but labels on {labels.device}")
    if not class_names:
        raise ValueError("class_names is empty; give one name per class")
    if len(set(class_names)) != len(class_names):
        raise ValueError(f"class_names must be unique, got {class_names}")
    if labels.numel() and (labels.min() < 0 or labels.max() >= len(class_names)):
        raise ValueError(
            f"labels must lie in [0, {len(class_names) - 1}] for {len(class_names)} class "
            f"names; got values from {int(labels.min())} to {int(labels.max())}"
        )


def _check_values(values: Tensor, labels: Tensor) -> None:
    if not isinstance(values, Tensor) or values.dtype != torch.float32 or values.dim() != 1:
        raise ValueError(
            "values must be a 1-D float32 tensor of scalar labels, got "
            + (
                f"shape {tuple(values.shape)} and dtype {values.dtype}"
                if isinstance(values, Tensor)
                else type(values).__name__
            )
        )
    if values.shape != labels.shape or values.device != labels.device:
        raise ValueError(f"got {values.shape[0]} values for {labels.shape[0]} images")
    if not torch.isfinite(values).all():
        raise ValueError("values contain NaN or Inf; drop or fix those samples")
