from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from leapfactual.data import available_datasets, load_dataset

from .files import write_galaxy10


def test_default_is_mnist5k() -> None:
    data = load_dataset()
    assert data.name == "mnist5k" and len(data) == 5000


def test_built_in_names_are_case_insensitive() -> None:
    assert load_dataset(" Digits ").name == "digits"


def test_idx_spec_with_options(idx_dir: Path) -> None:
    assert len(load_dataset(f"idx:{idx_dir}")) == 12
    data = load_dataset(f"idx:{idx_dir}", split="all", name="tiny")
    assert len(data) == 18 and data.name == "tiny"


def test_fashion_mnist_spec_with_a_directory(idx_dir: Path) -> None:
    data = load_dataset(f"fashion-mnist:{idx_dir}", split="test")
    assert len(data) == 6 and data.class_names[0] == "T-shirt/top"


def test_image_folder_and_galaxy10_specs(tmp_path: Path) -> None:
    for cls in ("x", "y"):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        Image.new("RGB", (9, 9), (0, 255, 0)).save(tmp_path / "imgs" / cls / "a.png")
    data = load_dataset(f"image-folder:{tmp_path / 'imgs'}", size=4, channels=3)
    assert data.images.shape == (2, 3, 4, 4) and data.class_names == ["x", "y"]
    images = np.zeros((3, 256, 256, 3), np.uint8)
    path = write_galaxy10(tmp_path / "g.h5", images, np.array([0, 1, 2]))
    data = load_dataset(f"galaxy10:{path}", limit=2)
    assert data.images.shape == (2, 3, 128, 128)


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown dataset 'cifar10'") as info:
        load_dataset("cifar10")
    for usage in available_datasets():
        assert usage in str(info.value)


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("mnist5k:/tmp/x", "takes no path"),
        ("idx", "needs a path; use 'idx:DIR'"),
        ("galaxy10", "needs a path; use 'galaxy10:FILE.h5'"),
        ("image-folder:", "empty path"),
    ],
)
def test_bad_specs(spec: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        load_dataset(spec)


def test_missing_paths_are_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    for spec in (f"idx:{missing}", f"image-folder:{missing}", f"galaxy10:{missing}"):
        with pytest.raises(FileNotFoundError, match="nowhere"):
            load_dataset(spec)


def test_unknown_options_list_the_accepted_ones(idx_dir: Path) -> None:
    with pytest.raises(ValueError, match="takes no option 'size'; its options are: split"):
        load_dataset(f"idx:{idx_dir}", size=4)
    with pytest.raises(ValueError, match="its options are: none"):
        load_dataset("mnist5k", split="test")


def test_available_datasets_describes_each_spec() -> None:
    listing = available_datasets()
    assert set(listing) == {
        "mnist5k",
        "digits",
        "fashion-mnist[:DIR]",
        "idx:DIR",
        "confounded[:BASE]",
        "confounded-test[:BASE]",
        "image-folder:DIR",
        "galaxy10:FILE.h5",
        "thickness[:BASE]",
        "stroke-thickness[:BASE]",
    }
    assert "options: limit, crop, size, chunk_size" in listing["galaxy10:FILE.h5"]
    assert "options: seed" in listing["stroke-thickness[:BASE]"]
    assert "options: seed, limit" in listing["thickness[:BASE]"]


def test_run_settings_reach_the_loaders_that_take_them(tmp_path: Path) -> None:
    for cls in ("x", "y"):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        Image.new("RGB", (9, 9), (0, 255, 0)).save(tmp_path / "imgs" / cls / "a.png")
    folder = f"image-folder:{tmp_path / 'imgs'}"
    assert load_dataset(folder).shape == (3, 9, 9)  # None: as the data are
    assert load_dataset(folder, image_size=4, channels=1).shape == (1, 4, 4)
    path = write_galaxy10(tmp_path / "g.h5", np.zeros((2, 256, 256, 3), np.uint8), np.zeros(2))
    assert load_dataset(f"galaxy10:{path}", image_size=16, channels=3).shape == (3, 16, 16)
    assert load_dataset("digits", image_size=8, channels=1).shape == (1, 8, 8)
    with pytest.raises(ValueError, match=r"has images of 1x8x8 .*not the 3x28x28 asked for"):
        load_dataset("digits", image_size=28, channels=3)
    with pytest.raises(ValueError, match=r"3x16x16 .*not the 1x16x16 asked for"):
        load_dataset(f"galaxy10:{path}", image_size=16, channels=1)
    with pytest.raises(ValueError, match="give the image size once"):
        load_dataset(folder, image_size=4, size=4)
    for bad in (0, 2.5, float("nan"), True):
        with pytest.raises(ValueError, match="image_size must be a positive integer or None"):
            load_dataset("digits", image_size=bad)
