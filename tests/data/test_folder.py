from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from leapfactual.data import load_image_folder


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Two classes given in reverse order, mixed formats, sizes and modes, and some clutter."""
    root = tmp_path / "pets"
    (root / "b_dog").mkdir(parents=True)
    (root / "a_cat").mkdir()
    (root / ".hidden").mkdir()
    Image.new("RGB", (20, 10), (255, 0, 0)).save(root / "a_cat" / "red.png")
    Image.new("RGBA", (7, 7), (0, 0, 255, 255)).save(root / "a_cat" / "blue.PNG")
    Image.new("L", (30, 30), 128).save(root / "b_dog" / "grey.jpg", quality=95)
    (root / "b_dog" / "notes.txt").write_text("not an image")
    Image.new("L", (5, 5), 0).save(root / ".hidden" / "skip.png")
    return root


def test_classes_are_sorted_folders_and_files_are_resized(folder: Path) -> None:
    data = load_image_folder(folder, size=8, channels=3)
    assert data.class_names == ["a_cat", "b_dog"] and data.name == "pets"
    assert data.images.shape == (3, 3, 8, 8) and data.images.dtype == torch.float32
    assert data.labels.tolist() == [0, 0, 1]
    blue, red, grey = data.images  # files are read in sorted order: blue.PNG, red.png
    assert torch.allclose(blue.mean((1, 2)), torch.tensor([0.0, 0.0, 1.0]))
    assert torch.allclose(red.mean((1, 2)), torch.tensor([1.0, 0.0, 0.0]))
    assert torch.allclose(grey, torch.full_like(grey, 128 / 255), atol=2 / 255)  # JPEG


def test_grey_conversion(folder: Path) -> None:
    data = load_image_folder(folder, size=5, channels=1)
    assert data.shape == (1, 5, 5)
    red = data.images[1, 0]
    # ITU-R 601-2 luma of pure red, as Pillow computes it: 299/1000 * 255
    assert torch.allclose(red, torch.full_like(red, round(0.299 * 255) / 255), atol=1 / 255)


def test_resize_keeps_a_pattern(tmp_path: Path) -> None:
    (tmp_path / "only").mkdir()
    half = np.zeros((32, 32), np.uint8)
    half[:, 16:] = 255
    Image.fromarray(half).save(tmp_path / "only" / "half.png")
    image = load_image_folder(tmp_path, size=8).images[0, 0]
    assert image[:, :3].max() < 0.05 and image[:, 5:].min() > 0.95


def test_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="one sub-folder"):
        load_image_folder(tmp_path / "missing")
    with pytest.raises(ValueError, match="no class sub-folders"):
        load_image_folder(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty has no PNG or JPEG"):
        load_image_folder(tmp_path)
    (tmp_path / "empty" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(ValueError, match=r"cannot read image .*broken\.png"):
        load_image_folder(tmp_path)
    with pytest.raises(ValueError, match="channels must be 1"):
        load_image_folder(tmp_path, channels=2)
    with pytest.raises(ValueError, match="size must be a positive integer"):
        load_image_folder(tmp_path, size=0)
