"""Digits with a shortcut: a nuisance that goes with one class in training and not at test.

A task with known truth for auditing and repairing classifiers. The nuisance is drawn on the
digits of a base dataset (mnist5k by default: 28x28 grey):

- ``patch``: a bright square (``patch_size`` pixels, value ``strength``) in the top-left
  corner, one pixel in from the edges, where digits almost never reach. Removing it sets the
  square back to the background (0).
- ``tint``: the stroke coloured red, ``(1, 1 - strength, 1 - strength) * x`` (images become
  RGB; clean images are the grey digit in all three channels). Removing it replaces every
  channel by the red one (the grey digit).

In the training set the nuisance marks ``p_train`` of the ``correlated_class`` images and
``p_other`` of the others (default 0: a clean shortcut; already 1 % of the others makes most
models use the digit as well); in the decorrelated test set it marks ``p_test`` of every
class, independently of the label. Every image has a clean twin (the same digit without the
nuisance), used by the rule teacher and to measure reliance. The training digits also come
decorrelated (the nuisance on ``p_test`` of every class): a model trained on those sees the
nuisance but cannot use it (the ceiling, and a model blind to the shortcut). ``imbalance``
keeps only that share of the correlated class's training images (a minority class). Every
random choice comes from ``seed``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from leapfactual.data.dataset import Dataset
from leapfactual.data.split import stratified_split

NUISANCES = ("patch", "tint")
PATCH_OFFSET = 1
"""Pixels between the image edge and the patch."""
STROKE = 0.05
"""Pixels brighter than this are strokes (where the ``tint`` nuisance lives)."""
DEFAULT_CLASS = 8
"""The class the registered datasets put the patch on."""


@dataclass(frozen=True, eq=False)
class ConfoundedTask:
    """The confounded training set, the decorrelated test set, their clean twins and the
    nuisance's definition.

    Attributes:
        train, test: the images as a model sees them (with the nuisance where it was drawn).
        train_clean, test_clean: the same digits without any nuisance (same labels, order).
        train_decorrelated: the training digits with the nuisance independent of the class.
        train_has, test_has, decorrelated_has: bool ``[N]``, which images carry it.
        nuisance, strength, correlated_class, patch_size: what was drawn and on which class.
        settings: every option of :func:`confounded_digits`, for the record.
    """

    train: Dataset
    test: Dataset
    train_clean: Dataset
    test_clean: Dataset
    train_decorrelated: Dataset
    train_has: Tensor
    test_has: Tensor
    decorrelated_has: Tensor
    nuisance: str
    strength: float
    correlated_class: int
    patch_size: int
    settings: dict[str, object]

    @property
    def class_names(self) -> list[str]:
        return list(self.train.class_names)

    def add_nuisance(self, x: Tensor) -> Tensor:
        """``x`` (clean images of this task's shape) with the nuisance drawn on every image."""
        return add_nuisance(x, self.nuisance, self.strength, self.patch_size)

    def remove_nuisance(self, x: Tensor) -> Tensor:
        """``x`` with the nuisance taken away (works on any image, e.g. a CE)."""
        return remove_nuisance(x, self.nuisance, self.patch_size)

    def nuisance_mask(self, x: Tensor) -> Tensor:
        """Where the nuisance lives in each image: bool ``[B, 1, H, W]`` (the patch's square;
        for the tint, the stroke pixels)."""
        return nuisance_mask(x, self.nuisance, self.patch_size)

    def rule(self, clean_classifier: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
        """The true rule as a classifier: ``clean_classifier`` (a model that never saw the
        nuisance) on the image with the nuisance removed."""

        def rule(x: Tensor) -> Tensor:
            return clean_classifier(self.remove_nuisance(x))

        return rule


def confounded_digits(
    base: Dataset,
    nuisance: str = "patch",
    strength: float = 1.0,
    correlated_class: int = DEFAULT_CLASS,
    p_train: float = 0.95,
    imbalance: float | None = None,
    seed: int = 0,
    *,
    p_other: float = 0.0,
    p_test: float = 0.5,
    test_fraction: float = 0.2,
    patch_size: int = 5,
) -> ConfoundedTask:
    """Split grey ``base`` digits (stratified, seeded) into a confounded training set and a
    decorrelated test set (see the module docstring)."""
    if nuisance not in NUISANCES:
        raise ValueError(f"unknown nuisance {nuisance!r}; choose one of {list(NUISANCES)}")
    if base.shape[0] != 1:
        raise ValueError(f"confounded digits need grey images (1 channel), got {base.shape}")
    if not (0 < strength <= 1 and math.isfinite(strength)):
        raise ValueError(f"strength must lie in (0, 1], got {strength}")
    if not 0 <= correlated_class < base.num_classes:
        raise ValueError(
            f"correlated_class must lie in 0..{base.num_classes - 1}, got {correlated_class}"
        )
    for name, p in (("p_train", p_train), ("p_other", p_other), ("p_test", p_test)):
        if not 0 <= p <= 1:
            raise ValueError(f"{name} must lie in [0, 1], got {p}")
    if imbalance is not None and not 0 < imbalance <= 1:
        raise ValueError(f"imbalance must lie in (0, 1] (share of the class kept), got {imbalance}")
    side = base.shape[1]
    if not 1 <= patch_size <= side - 2 * PATCH_OFFSET:
        raise ValueError(f"patch_size must lie in 1..{side - 2 * PATCH_OFFSET}, got {patch_size}")
    train_idx, test_idx = stratified_split(base.labels, [1 - test_fraction, test_fraction], seed)
    gen = torch.Generator().manual_seed(seed + 1)
    if imbalance is not None:
        mine = base.labels[train_idx] == correlated_class
        order = torch.randperm(len(train_idx), generator=gen)
        keep_mine = order[mine[order]][: max(1, round(imbalance * int(mine.sum())))]
        keep = torch.cat([order[~mine[order]], keep_mine])
        train_idx = train_idx[keep[torch.randperm(len(keep), generator=gen)]]
    train_y = base.labels[train_idx]
    chance = torch.where(train_y == correlated_class, p_train, p_other)
    train_has = torch.rand(len(train_idx), generator=gen, dtype=torch.float64) < chance
    test_has = torch.rand(len(test_idx), generator=gen, dtype=torch.float64) < p_test
    decorrelated_has = torch.rand(len(train_idx), generator=gen, dtype=torch.float64) < p_test
    names = list(base.class_names)
    label = f"confounded({base.name}, {nuisance} on {names[correlated_class]})"

    def make(idx: Tensor, has: Tensor, part: str) -> tuple[Dataset, Dataset]:
        clean = _as_clean(base.images[idx], nuisance)
        seen = clean.clone()
        seen[has] = add_nuisance(clean[has], nuisance, strength, patch_size)
        y = base.labels[idx]
        return Dataset(seen, y, names, f"{label} {part}"), Dataset(clean, y, names, f"{part} clean")

    train, train_clean = make(train_idx, train_has, "train")
    test, test_clean = make(test_idx, test_has, "test")
    decorrelated, _ = make(train_idx, decorrelated_has, "train decorrelated")
    settings: dict[str, object] = {
        "base": base.name, "nuisance": nuisance, "strength": strength,
        "correlated_class": correlated_class, "p_train": p_train, "p_other": p_other,
        "p_test": p_test, "imbalance": imbalance, "test_fraction": test_fraction,
        "patch_size": patch_size, "seed": seed,
    }  # fmt: skip
    return ConfoundedTask(
        train, test, train_clean, test_clean, decorrelated, train_has, test_has,
        decorrelated_has, nuisance, float(strength), correlated_class, patch_size, settings,
    )  # fmt: skip


def load_confounded(base: Dataset, seed: int = 0) -> Dataset:
    """The confounded training digits of :func:`confounded_digits` on ``base`` (defaults:
    the patch on class 8 in 95 % of its images): the data of a run with a shortcut. As a
    registered dataset, ``confounded[:BASE]`` (the registry loads ``BASE``)."""
    return confounded_digits(base, seed=seed).train


def load_confounded_test(base: Dataset, seed: int = 0) -> Dataset:
    """The decorrelated test digits matching :func:`load_confounded` (the patch on half of
    every class)."""
    return confounded_digits(base, seed=seed).test


def _as_clean(x: Tensor, nuisance: str) -> Tensor:
    """Base grey images as clean images of the task (RGB grey for the tint)."""
    return x.expand(-1, 3, -1, -1).contiguous() if nuisance == "tint" else x.clone()


def _box(patch_size: int) -> tuple[slice, slice]:
    cut = slice(PATCH_OFFSET, PATCH_OFFSET + patch_size)
    return cut, cut


def add_nuisance(x: Tensor, nuisance: str, strength: float, patch_size: int = 5) -> Tensor:
    """Clean images ``x`` with the nuisance drawn on each (a new tensor)."""
    out = x.clone()
    if nuisance == "patch":
        rows, cols = _box(patch_size)
        out[..., rows, cols] = torch.maximum(out[..., rows, cols], torch.tensor(strength))
        return out
    if nuisance == "tint":
        _check_rgb(x)
        out[:, 1:] = x[:, 1:] * (1 - strength)
        return out
    raise ValueError(f"unknown nuisance {nuisance!r}; choose one of {list(NUISANCES)}")


def remove_nuisance(x: Tensor, nuisance: str, patch_size: int = 5) -> Tensor:
    """``x`` without the nuisance: the patch's square set to the background, or the red
    channel (the grey digit) copied to all three."""
    out = x.clone()
    if nuisance == "patch":
        rows, cols = _box(patch_size)
        out[..., rows, cols] = 0.0
        return out
    if nuisance == "tint":
        _check_rgb(x)
        return x[:, :1].expand_as(x).contiguous()
    raise ValueError(f"unknown nuisance {nuisance!r}; choose one of {list(NUISANCES)}")


def nuisance_mask(x: Tensor, nuisance: str, patch_size: int = 5) -> Tensor:
    """bool ``[B, 1, H, W]``: the patch's square, or the stroke pixels for the tint."""
    if nuisance == "patch":
        mask = torch.zeros(len(x), 1, *x.shape[2:], dtype=torch.bool, device=x.device)
        rows, cols = _box(patch_size)
        mask[..., rows, cols] = True
        return mask
    if nuisance == "tint":
        return x.amax(1, keepdim=True) > STROKE
    raise ValueError(f"unknown nuisance {nuisance!r}; choose one of {list(NUISANCES)}")


def _check_rgb(x: Tensor) -> None:
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"the tint needs RGB images [B, 3, H, W], got {tuple(x.shape)}")


__all__ = [
    "NUISANCES",
    "ConfoundedTask",
    "add_nuisance",
    "confounded_digits",
    "load_confounded",
    "load_confounded_test",
    "nuisance_mask",
    "remove_nuisance",
]
