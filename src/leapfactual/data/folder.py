"""Image files: one by one, folders of them, glob patterns, and a folder with one sub-folder per
class (the torchvision ``ImageFolder`` layout).

Every image goes through one reader, :func:`read_image`:

- 8-bit images are divided by 255; 16-bit grey PNGs (Pillow modes ``I;16`` / ``I``) are read
  as integers and divided by 65535 (Pillow's own 8-bit conversion would saturate them).
- Transparency (RGBA, LA, palette or grey with a transparent colour) is composited on
  **black**: the pixel is multiplied by its alpha (the project's backgrounds are dark).
- Colour becomes grey by ITU-R 601-2 luma (``0.299 R + 0.587 G + 0.114 B``, as Pillow's
  ``L``); grey becomes RGB by repeating it.
- ``size`` is a side (square images) or ``(height, width)``. Resizing is Lanczos in float,
  clipped to [0, 1]; an image already of that size is not resampled. An image of another
  aspect ratio is fitted by ``aspect``: ``pad`` (the default: scaled to fit inside and centred
  on black, nothing lost or stretched), ``crop`` (scaled to cover and centre-cropped) or
  ``stretch`` (resized to the size, distorted); :func:`aspect_note` says in one line what
  was done to a set of images.
- An image over Pillow's decompression-bomb limit (``PIL.Image.MAX_IMAGE_PIXELS``, about 89
  million pixels) is refused with a ``ValueError`` naming the file and its pixel count.
"""

from __future__ import annotations

import fnmatch
import itertools
import numbers
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from leapfactual._optional import require
from leapfactual.data.dataset import Dataset

IMAGE_SUFFIXES: frozenset[str] = frozenset({".png", ".jpg", ".jpeg"})
GREY_MODES: frozenset[str] = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "F"})
"""Pillow modes without colour; any other mode (RGB, RGBA, CMYK, YCbCr, ...) is colour, and a
palette image (``P``, ``PA``) is colour unless every palette entry is grey."""
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
GLOB_CHARS = frozenset("*?[")
PathLike = str | os.PathLike[str]
MAX_ENTRIES = 1_000_000
"""A folder listing, a class tree or a glob pattern looks at no more files and folders than
this; one that would is refused (a pattern through linked folders could run on for hours)."""
Size = int | tuple[int, int]
ASPECTS = ("pad", "crop", "stretch")
"""How an image of another aspect ratio than the size asked for is fitted to it."""


def load_image_folder(
    directory: PathLike,
    size: Size | None = None,
    channels: int | None = None,
    aspect: str = "pad",
) -> Dataset:
    """Load ``directory/CLASS/*.png|jpg|jpeg``; sorted sub-folder names are the class names.

    Images become ``channels`` (1 grey, 3 RGB) x ``size`` (a side, or ``(height, width)``),
    fitted by ``aspect`` (see the module docstring); ``None`` takes them from the data as
    :func:`read_images` says, and ``Dataset.shape`` tells what was chosen. Files with other
    suffixes and hidden entries are skipped.
    """
    root = Path(directory).expanduser()
    _check_size(size, channels, aspect)
    classes, files, labels = _class_tree(root)
    return Dataset(
        read_images(files, size, channels, aspect),
        torch.tensor(labels, dtype=torch.long),
        classes,
        root.name,
    )


def _class_tree(root: Path) -> tuple[list[str], list[Path], list[int]]:
    """Class names (sorted sub-folders), image files and their labels of ``root/CLASS/*``."""
    if not root.is_dir():
        raise FileNotFoundError(
            f"{root} is not a directory; 'image-folder:DIR' needs a folder with one sub-folder "
            "of PNG/JPEG images per class, e.g. DIR/cat/1.png and DIR/dog/2.jpg"
        )
    classes = sorted(p.name for p in _listing(root) if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise ValueError(
            f"{root} has no class sub-folders; put each class's images in its own sub-folder, "
            "e.g. DIR/cat/1.png and DIR/dog/2.jpg"
        )
    files: list[Path] = []
    labels: list[int] = []
    for label, cls in enumerate(classes):
        found = image_files(root / cls)
        if not found:
            raise ValueError(
                f"class folder {root / cls} has no PNG or JPEG images; add some or remove it"
            )
        files += found
        labels += [label] * len(found)
    return classes, files, labels


def _check_size(size: Size | None, channels: int | None, aspect: str = "pad") -> None:
    """``None`` (take it from the data) or channels 1 / 3, a positive integer size (or a
    pair of them) and a known aspect policy."""
    if channels is not None and (isinstance(channels, bool) or channels not in (1, 3)):
        raise ValueError(f"channels must be 1 (grey) or 3 (RGB), got {channels!r}")
    sides = size if isinstance(size, tuple | list) else (size,)
    if size is not None and not (
        len(sides) in (1, 2)
        and all(
            not isinstance(s, bool) and isinstance(s, numbers.Integral) and s >= 1 for s in sides
        )
    ):
        raise ValueError(
            f"size must be a positive integer or (height, width) of them, got {size!r}"
        )
    if aspect not in ASPECTS:
        raise ValueError(
            f"unknown aspect {aspect!r} (how images of another aspect ratio are fitted); "
            f"choose one of {list(ASPECTS)}"
        )


def _hw(size: Size) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def image_files(directory: Path) -> list[Path]:
    """PNG / JPEG files directly in ``directory``, sorted, hidden files skipped."""
    return sorted(
        p
        for p in _listing(directory)
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )


def _listing(directory: Path) -> list[Path]:
    """The entries of ``directory``; a ``ValueError`` when there are over :data:`MAX_ENTRIES`."""
    with os.scandir(directory) as entries:
        found = [Path(entry.path) for entry in itertools.islice(entries, MAX_ENTRIES + 1)]
    if len(found) > MAX_ENTRIES:
        raise ValueError(
            f"{directory} holds over {MAX_ENTRIES:,} entries; give a folder of images, or a "
            "narrower glob pattern"
        )
    return found


def read_images(
    files: Sequence[Path],
    size: Size | None = None,
    channels: int | None = None,
    aspect: str = "pad",
) -> Tensor:
    """Images float32 ``[N, channels, H, W]`` in [0, 1] (``size``: a side or ``(H, W)``),
    read one file at a time, each fitted by ``aspect`` (module docstring).

    ``None`` is taken from the files' headers (only palette images get decoded for it):
    ``channels`` is 3 if any image is in colour (see :data:`GREY_MODES`; a grey PNG stays
    grey), else 1; ``size`` is the median of the images' longer sides, the lower one of the
    two middle values for an even count, so it is always a side that occurs (equal square
    images keep theirs).
    """
    if not files:
        raise ValueError("no image files to read; give at least one PNG or JPEG image")
    if size is None or channels is None:
        headers = [_header(file) for file in files]
        if channels is None:
            channels = 3 if any(colour for colour, _ in headers) else 1
        if size is None:
            size = sorted(side for _, side in headers)[(len(headers) - 1) // 2]
    _check_size(size, channels, aspect)
    out = torch.empty(len(files), channels, *_hw(size))
    for i, file in enumerate(files):
        out[i] = torch.from_numpy(read_image(file, size, channels, aspect))
    return out


def read_image(file: Path, size: Size, channels: int, aspect: str = "pad") -> np.ndarray:
    """One image file as float32 ``[channels, H, W]`` in [0, 1] (module docstring)."""
    with _opened(file) as image:
        mode = image.mode
        raw, scale, alpha = _raw_pixels(image)
    pixels = raw.astype(np.float32) / np.float32(scale)
    if not np.isfinite(pixels).all() or pixels.min() < 0 or pixels.max() > 1:
        raise ValueError(
            f"image {file} (mode {mode}) has values outside [0, {scale:g}]; save it as an 8- or "
            "16-bit PNG"
        )
    if alpha:
        pixels = pixels[..., :-1] * pixels[..., -1:]  # composite on black
    if channels == 1 and pixels.shape[2] == 3:
        pixels = pixels @ LUMA[:, None]
    elif channels == 3 and pixels.shape[2] == 1:
        pixels = np.repeat(pixels, 3, axis=2)
    height, width = _hw(size)
    if pixels.shape[:2] == (height, width):
        return np.ascontiguousarray(pixels.transpose(2, 0, 1))
    h, w = pixels.shape[:2]
    if aspect == "stretch" or h * width == w * height:
        return _resized(pixels, height, width)
    fit = min if aspect == "pad" else max
    factor = fit(height / h, width / w)
    inner_h, inner_w = max(1, round(h * factor)), max(1, round(w * factor))
    scaled = _resized(pixels, inner_h, inner_w)
    out = np.zeros((channels, height, width), dtype=np.float32)
    if aspect == "pad":
        top, left = (height - inner_h) // 2, (width - inner_w) // 2
        out[:, top : top + inner_h, left : left + inner_w] = scaled
    else:
        top, left = (inner_h - height) // 2, (inner_w - width) // 2
        out[:] = scaled[:, top : top + height, left : left + width]
    return out


def _resized(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """``[h, w, C]`` pixels resized (Lanczos, per channel) to ``[C, height, width]``."""
    if pixels.shape[:2] == (height, width):
        return np.ascontiguousarray(pixels.transpose(2, 0, 1))
    pil = require("PIL.Image", "data", "reading image files")
    planes = [
        np.asarray(
            pil.fromarray(np.ascontiguousarray(pixels[..., c])).resize(
                (width, height), pil.Resampling.LANCZOS
            )
        )
        for c in range(pixels.shape[2])
    ]
    return np.clip(np.stack(planes), 0.0, 1.0)


def folder_aspect_note(directory: PathLike, size: Size, aspect: str) -> str | None:
    """:func:`aspect_note` of the images of a class-folder tree (``image-folder:DIR``)."""
    _, files, _ = _class_tree(Path(directory).expanduser())
    return aspect_note(files, size, aspect)


def aspect_note(files: Sequence[Path], size: Size, aspect: str) -> str | None:
    """One line saying what reading ``files`` at ``size`` did to the images whose aspect
    ratio is not the size's (None when every image has it). Reads the headers only."""
    height, width = _hw(size)
    shapes: dict[tuple[int, int], int] = {}
    for file in files:
        with _opened(file) as image:
            w, h = image.size
        if h * width != w * height:
            shapes[(h, w)] = shapes.get((h, w), 0) + 1
    if not shapes:
        return None
    common = max(shapes, key=lambda k: shapes[k])
    done = {
        "pad": "scaled to fit and padded with black (nothing stretched or cut)",
        "crop": "scaled to cover and centre-cropped (their edges are cut)",
        "stretch": "stretched to it (their shapes are distorted)",
    }[aspect]
    return (
        f"{sum(shapes.values())} of {len(files)} images (e.g. {common[0]}x{common[1]} px, "
        f"height x width) have another aspect ratio than {height}x{width}: they were "
        f"{done}; choose with aspect = pad, crop or stretch, or keep their shape with "
        f"--image-size {common[0]}x{common[1]} (a codec that takes it: --codec)"
    )


@contextmanager
def _opened(file: Path) -> Iterator[Any]:
    """The Pillow image of ``file``; failing to read it (or a decompression bomb) raises a
    one-line ``ValueError`` naming the file. Keep only Pillow calls inside the block."""
    pil = require("PIL.Image", "data", "reading image files")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pil.DecompressionBombWarning)
            with pil.open(file) as image:
                yield image
    except (pil.DecompressionBombError, pil.DecompressionBombWarning) as err:
        found = re.search(r"\((\d+) pixels\)", str(err))
        pixels = f"{int(found[1]):,} pixels" if found else "too many pixels"
        raise ValueError(
            f"image {file} has {pixels}, over Pillow's decompression-bomb limit of "
            f"{pil.MAX_IMAGE_PIXELS:,} (PIL.Image.MAX_IMAGE_PIXELS); shrink it, or raise that "
            "limit if you trust the file"
        ) from err
    except (OSError, SyntaxError, ValueError) as err:  # Pillow raises SyntaxError on broken PNGs
        raise ValueError(f"cannot read image {file} ({err}); fix or remove it") from err


def _header(file: Path) -> tuple[bool, int]:
    """Whether the image is in colour, and its longer side (from the header only)."""
    with _opened(file) as image:
        return _is_colour(image), max(image.size)


def _is_colour(image: Any) -> bool:
    if image.mode in GREY_MODES:
        return False
    if image.mode in ("P", "PA"):
        palette = image.getpalette()
        if palette is None:
            return False
        rgb = np.asarray(palette).reshape(-1, 3)
        return bool((rgb != rgb[:, :1]).any())
    return True


def _raw_pixels(image: Any) -> tuple[np.ndarray, float, bool]:
    """Pixels ``[H, W, C]`` (grey or RGB, plus alpha last when ``alpha``) and their full scale."""
    if image.mode.startswith("I") or image.mode == "F":  # 16/32-bit grey, read as numbers
        return np.asarray(image)[..., None], 1.0 if image.mode == "F" else 65535.0, False
    alpha = "A" in image.mode or "transparency" in image.info
    grey = not _is_colour(image)
    target = ("LA" if alpha else "L") if grey else ("RGBA" if alpha else "RGB")
    pixels = np.asarray(image.convert(target))
    return (pixels[..., None] if pixels.ndim == 2 else pixels), 255.0, alpha


@dataclass(frozen=True)
class _Found:
    """The image files one input spec stands for, their report names and class labels, and
    how many it holds (``total``; None: a pattern walked only until enough were found)."""

    files: list[Path]
    names: list[str]
    classes: tuple[str, ...] | None = None
    labels: tuple[int, ...] = ()
    total: int | None = 0


@dataclass(frozen=True)
class ImageInputs:
    """What :func:`find_image_inputs` found: the files to read, their names, class labels
    (or None), and how many images the inputs hold (``found``; None when a glob pattern was
    walked only until it had ``limit`` files, so more may match); ``balanced``: a
    class-folder tree was sampled evenly over its classes to keep within the limit."""

    files: list[Path]
    names: list[str]
    labels: Tensor | None
    found: int | None
    balanced: bool = False


def load_image_inputs(
    specs: PathLike | Sequence[PathLike],
    size: Size,
    channels: int,
    limit: int = 0,
    aspect: str = "pad",
) -> tuple[Tensor, list[str], Tensor | None]:
    """Images ``[N, channels, H, W]`` in [0, 1] (``size``: a side or ``(H, W)``, each image
    fitted by ``aspect``), their names and, maybe, class labels.

    Each spec (one spec alone is accepted too) is an image file, a folder of images, a
    class-folder tree ``DIR/CLASS/*.png`` (a folder with no image directly in it; the
    ``image-folder:DIR`` layout) or a glob pattern (``"imgs/*.png"``, ``"imgs/**/*.jpg"``;
    quote it so that the shell leaves it alone), keeping PNG / JPEG files. Specs are
    concatenated in order; a file given twice is read twice. ``limit`` > 0: only the first
    ``limit`` files are read, taken evenly over the classes of a class-folder tree, and
    patterns are walked only until they are found.

    Folders list in sorted order; a pattern is walked folder by folder (a folder's own matches
    sorted, then its sub-folders in sorted order), lazily, never entering a folder twice for
    one part of the pattern (a link back to a folder already walked is skipped), and looking
    at no more than :data:`MAX_ENTRIES` files and folders.

    Names are relative to the spec's folder (a file's name; ``"cat/1.png"`` in a tree; a
    glob match relative to the pattern's folder part); names shared by different files become
    the paths as given. Labels (indices into the sorted class-folder names) come back only
    when every spec is a class-folder tree with the same class names; else ``None``.
    """
    _check_size(size, channels, aspect)
    if size is None or channels is None:
        raise ValueError("load_image_inputs needs the size and channels the models expect")
    inputs = find_image_inputs(specs, limit)
    return read_images(inputs.files, size, channels, aspect), inputs.names, inputs.labels


def find_image_inputs(specs: PathLike | Sequence[PathLike], limit: int = 0) -> ImageInputs:
    """The files :func:`load_image_inputs` reads (see there), without reading them. With
    ``limit`` > 0 a class-folder tree is listed whole and sampled evenly over its classes
    (each class's first file, then each class's second, ...; kept in class order)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"limit must be a whole number >= 0 (0: every image), got {limit!r}")
    items = [specs] if isinstance(specs, str | os.PathLike) else list(specs)
    if not items:
        raise ValueError(
            "no images given; give image files, folders of them or quoted glob patterns such "
            "as 'imgs/*.png'"
        )
    found: list[_Found] = []
    total = 0
    for item in items:  # every spec is checked; once the limit is reached, one file each
        found.append(_expand(item, max(limit - total, 1) if limit else 0))
        total += len(found[-1].files)
    entries = [(n, f) for part in found for n, f in zip(part.names, part.files, strict=True)]
    entries = entries[:limit] if limit else entries
    owners: dict[str, set[Path]] = {}
    for name, file in entries:
        owners.setdefault(name, set()).add(file.resolve())
    names = [name if len(owners[name]) == 1 else str(file) for name, file in entries]
    labels = None
    if found[0].classes is not None and all(part.classes == found[0].classes for part in found):
        labels = torch.tensor([label for part in found for label in part.labels])[: len(entries)]
    counts = [part.total for part in found]
    held = None if None in counts else sum(c for c in counts if c is not None)
    balanced = any(
        part.classes is not None and len(part.files) < (part.total or 0) for part in found
    )
    return ImageInputs([file for _, file in entries], names, labels, held, balanced)


def _expand(spec: PathLike, room: int = 0) -> _Found:
    """The files of one spec of :func:`load_image_inputs` (``room`` > 0: at most that many)."""
    text = os.fspath(spec)
    path = Path(text).expanduser()
    if path.is_file():
        return _Found([path], [path.name], total=1)
    if path.is_dir():
        listed = image_files(path)
        direct = listed[: room or None]
        if direct:
            return _Found(direct, [file.name for file in direct], total=len(listed))
        if any(p.is_dir() and not p.name.startswith(".") for p in _listing(path)):
            classes, files, labels = _class_tree(path)
            chosen = evenly(labels, room)
            files, picked = [files[i] for i in chosen], [labels[i] for i in chosen]
            names = [f"{classes[k]}/{file.name}" for file, k in zip(files, picked, strict=True)]
            return _Found(files, names, tuple(classes), tuple(picked), total=len(labels))
        raise ValueError(
            f"{path} holds no PNG or JPEG images (neither directly nor in class sub-folders); "
            "add some or give other images"
        )
    if GLOB_CHARS & set(text):
        pattern = os.path.expanduser(text)
        parts = Path(pattern).parts
        fixed = list(itertools.takewhile(lambda part: not GLOB_CHARS & set(part), parts[:-1]))
        base = Path(*fixed) if fixed else Path(".")
        files = list(itertools.islice(_Walk(text).files(base, parts[len(fixed) :]), room or None))
        if not files:
            raise ValueError(
                f"pattern {text!r} matches no PNG or JPEG image; check the pattern (and quote it "
                "so that the shell does not expand it)"
            )
        total = None if room and len(files) == room else len(files)  # it stopped looking
        names = [Path(os.path.relpath(file, base)).as_posix() for file in files]
        return _Found(files, names, total=total)
    raise FileNotFoundError(
        f"{path} does not exist; give image files, folders of them or quoted glob patterns such "
        "as 'imgs/*.png'"
    )


class _Walk:
    """The image files a glob pattern matches, found lazily (see :func:`load_image_inputs`):
    ``**`` matches any number of folders (hidden ones excepted, as in :mod:`glob`), other
    parts match one name with :mod:`fnmatch`."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.seen: set[tuple[int, int, int]] = set()
        self.looked = 0

    def files(self, folder: Path, parts: tuple[str, ...]) -> Iterator[Path]:
        """Image files below ``folder`` matching ``parts``, in walking order."""
        try:
            info = folder.stat()
        except OSError:
            return
        here = (info.st_dev, info.st_ino, len(parts))
        if here in self.seen:  # this folder, for this part of the pattern, was walked already
            return
        self.seen.add(here)
        part, rest = parts[0], parts[1:]
        entries = self._entries(folder, part)
        if part == "**":
            if rest:
                yield from self.files(folder, rest)
            else:
                yield from (p for p in entries if _is_image(p))
            for sub in entries:
                if sub.is_dir():
                    yield from self.files(sub, parts)
            return
        for entry in entries:
            if not rest and _is_image(entry):
                yield entry
            elif rest and entry.is_dir():
                yield from self.files(entry, rest)

    def _entries(self, folder: Path, part: str) -> list[Path]:
        """The sorted entries of ``folder`` that ``part`` may match (all visible ones for
        ``**``), counted against :data:`MAX_ENTRIES`."""
        try:
            with os.scandir(folder) as listing:
                names = []
                for entry in listing:
                    self.looked += 1
                    if self.looked > MAX_ENTRIES:
                        raise ValueError(
                            f"pattern {self.pattern!r} looked at over {MAX_ENTRIES:,} files and "
                            "folders; narrow it, or give a limit (--limit)"
                        )
                    names.append(entry.name)
        except OSError:
            return []  # an unreadable folder matches nothing, as in glob
        hidden = part.startswith(".")
        wanted = "*" if part == "**" else part
        return [
            folder / name
            for name in sorted(names)
            if (hidden or not name.startswith(".")) and fnmatch.fnmatchcase(name, wanted)
        ]


def evenly(labels: Sequence[int], limit: int) -> list[int]:
    """Indices of at most ``limit`` (0: all) of ``labels``, taken evenly over the classes
    (each class's first, then each class's second, ...), in their original order."""
    if not limit or limit >= len(labels):
        return list(range(len(labels)))
    rank: dict[int, int] = {}
    ranks = []
    for label in labels:
        ranks.append(rank.get(label, 0))
        rank[label] = ranks[-1] + 1
    order = sorted(range(len(labels)), key=lambda i: (ranks[i], labels[i], i))
    return sorted(order[:limit])


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()


def load_image_files(
    paths: PathLike | Sequence[PathLike], size: int = 28, channels: int = 1
) -> tuple[Tensor, list[str]]:
    """:func:`load_image_inputs` without the labels: images ``[N, C, size, size]`` and names."""
    images, names, _ = load_image_inputs(paths, size, channels)
    return images, names
