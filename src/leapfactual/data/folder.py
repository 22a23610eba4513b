"""A folder of image files, one sub-folder per class (the torchvision ``ImageFolder`` layout)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from leapfactual.data._optional import require
from leapfactual.data.dataset import Dataset, images_from_uint8

IMAGE_SUFFIXES: frozenset[str] = frozenset({".png", ".jpg", ".jpeg"})


def load_image_folder(
    directory: str | os.PathLike[str], size: int = 28, channels: int = 1
) -> Dataset:
    """Load ``directory/CLASS/*.png|jpg|jpeg``; sorted sub-folder names are the class names.

    Each image is converted to grey (``channels=1``) or RGB (``channels=3``) and resized to
    ``size`` x ``size`` (Lanczos; the aspect ratio is not kept, crop beforehand if it matters).
    Files with other suffixes and hidden entries are skipped.
    """
    root = Path(directory).expanduser()
    _check_size(size, channels)
    if not root.is_dir():
        raise FileNotFoundError(
            f"{root} is not a directory; 'image-folder:DIR' needs a folder with one sub-folder "
            "of PNG/JPEG images per class, e.g. DIR/cat/1.png and DIR/dog/2.jpg"
        )
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise ValueError(
            f"{root} has no class sub-folders; put each class's images in its own sub-folder, "
            "e.g. DIR/cat/1.png and DIR/dog/2.jpg"
        )
    pixels: list[np.ndarray] = []
    labels: list[int] = []
    for label, cls in enumerate(classes):
        files = image_files(root / cls)
        if not files:
            raise ValueError(
                f"class folder {root / cls} has no PNG or JPEG images; add some or remove it"
            )
        pixels += [read_image(file, size, channels) for file in files]
        labels += [label] * len(files)
    return Dataset(
        images_from_uint8(np.stack(pixels), channels_last=channels == 3),
        torch.tensor(labels, dtype=torch.long),
        classes,
        root.name,
    )


def _check_size(size: int, channels: int) -> None:
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grey) or 3 (RGB), got {channels}")
    if int(size) != size or size < 1:
        raise ValueError(f"size must be a positive integer, got {size}")


def image_files(directory: Path) -> list[Path]:
    """PNG / JPEG files directly in ``directory``, sorted, hidden files skipped."""
    return sorted(
        p
        for p in directory.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )


def read_image(file: Path, size: int, channels: int) -> np.ndarray:
    """One image file as uint8 ``size x size`` (grey) or ``size x size x 3`` (RGB), Lanczos."""
    image_module = require("PIL.Image", "reading image files")
    try:
        with image_module.open(file) as image:
            mode = "L" if channels == 1 else "RGB"
            resized = image.convert(mode).resize((size, size), image_module.Resampling.LANCZOS)
        return np.asarray(resized, dtype=np.uint8)
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read image {file} ({err}); fix or remove it") from err


def load_image_files(
    paths: str | os.PathLike[str] | list[str | os.PathLike[str]], size: int = 28, channels: int = 1
) -> tuple[torch.Tensor, list[str]]:
    """Images ``[N, C, size, size]`` in [0, 1] from files, or from every image in a folder.

    Returns the images and their file names (in order).
    """
    _check_size(size, channels)
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    files: list[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            found = image_files(item)
            if not found:
                raise ValueError(f"{item} holds no PNG or JPEG images")
            files += found
        elif item.is_file():
            files.append(item)
        else:
            raise FileNotFoundError(f"{item} does not exist; give image files or a folder of them")
    pixels = np.stack([read_image(f, size, channels) for f in files])
    return images_from_uint8(pixels, channels_last=channels == 3), [f.name for f in files]
