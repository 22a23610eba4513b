"""Galaxy10 DECaLS: 17,736 colour galaxy images in 10 morphology classes, from an HDF5 file.

The file ``Galaxy10_DECals.h5`` (2.5 GB, https://github.com/henrysky/Galaxy10) holds
``images`` ``[N, 256, 256, 3]`` uint8 and labels ``ans`` ``[N]``. It is read in chunks of
``chunk_size`` images (only the crop window of each), so memory holds the result plus one
chunk's working space (under 200 MB at the default), never the whole file.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F

from leapfactual._optional import require
from leapfactual.data.classes import GALAXY10_CLASSES
from leapfactual.data.dataset import Dataset, images_from_uint8


def load_galaxy10(
    file: str | os.PathLike[str],
    limit: int | None = None,
    crop: int = 150,
    size: int = 128,
    chunk_size: int = 128,
) -> Dataset:
    """Load Galaxy10 DECaLS: centre crop ``crop`` x ``crop`` pixels, then resize to ``size``.

    The resize is antialiased bilinear (``torch.nn.functional.interpolate``). ``limit`` keeps
    only the first ``limit`` images. The full file gives ``17736 x 3 x 128 x 128`` float32
    (3.5 GB); use ``limit`` or a smaller ``size`` on small machines.
    """
    h5py = require("h5py", "data", "the 'galaxy10' dataset")
    path = Path(file).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist; download Galaxy10_DECals.h5 (2.5 GB) via "
            "https://github.com/henrysky/Galaxy10 and pass its path as 'galaxy10:FILE.h5'"
        )
    for option, value in (("crop", crop), ("size", size), ("chunk_size", chunk_size)):
        if int(value) != value or value < 1:
            raise ValueError(f"{option} must be a positive integer, got {value}")
    if limit is not None and (int(limit) != limit or limit < 0):
        raise ValueError(f"limit must be a non-negative integer or None, got {limit}")
    with path.open("rb") as probe:
        if probe.read(8) != b"\x89HDF\r\n\x1a\n":
            raise ValueError(
                f"{path} is not an HDF5 file (Galaxy10_DECals.h5 starts with the HDF5 "
                "signature); give the .h5 file from https://github.com/henrysky/Galaxy10"
            )
    with h5py.File(path, "r") as handle:
        missing = [key for key in ("images", "ans") if key not in handle]
        if missing:
            raise ValueError(
                f"{path} has no dataset {missing[0]!r} (it has {sorted(handle.keys())}); a "
                "Galaxy10 file holds 'images' [N, H, W, 3] uint8 and 'ans' [N] labels"
            )
        images, answers = handle["images"], handle["ans"]
        if len(images.shape) != 4 or images.shape[3] != 3 or images.dtype != "uint8":
            raise ValueError(
                f"{path}: 'images' must be [N, H, W, 3] uint8, got {images.shape} {images.dtype}"
            )
        height, width = images.shape[1:3]
        if crop > min(height, width):
            raise ValueError(
                f"crop={crop} is larger than the {height}x{width} images in {path}; pass a "
                "smaller crop (e.g. crop=64 for the 69x69 images of the original Galaxy10)"
            )
        if answers.shape != (images.shape[0],):
            raise ValueError(
                f"{path}: 'ans' {answers.shape} does not match {images.shape[0]} images"
            )
        count = images.shape[0] if limit is None else min(int(limit), images.shape[0])
        out = torch.empty(count, 3, size, size, dtype=torch.float32)
        top, left = (height - crop) // 2, (width - crop) // 2
        for start in range(0, count, chunk_size):
            stop = min(start + chunk_size, count)
            window = images[start:stop, top : top + crop, left : left + crop, :]
            out[start:stop] = _resize(images_from_uint8(window, channels_last=True), size)
        labels = torch.as_tensor(answers[:count]).long()
    return Dataset(out, labels, list(GALAXY10_CLASSES), "galaxy10")


def _resize(images: torch.Tensor, size: int) -> torch.Tensor:
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    resized = F.interpolate(
        images, size=(size, size), mode="bilinear", antialias=True, align_corners=False
    )
    return resized.clamp_(0.0, 1.0)
