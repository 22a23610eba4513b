from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from leapfactual.data import GALAXY10_CLASSES, load_galaxy10

from .files import write_galaxy10


@pytest.fixture
def noise_file(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 256, 256, 3), dtype=np.uint8)
    return write_galaxy10(tmp_path / "Galaxy10_DECals.h5", images, np.array([3, 1, 4, 1, 5]))


def raw_images(path: Path) -> torch.Tensor:
    import h5py

    with h5py.File(path, "r") as handle:
        return torch.from_numpy(handle["images"][:]).permute(0, 3, 1, 2).float() / 255


def test_centre_crop_is_exact(noise_file: Path) -> None:
    data = load_galaxy10(noise_file, size=150)  # crop only, no resize
    assert torch.equal(data.images, raw_images(noise_file)[:, :, 53:203, 53:203])


def test_crop_then_antialiased_resize(noise_file: Path) -> None:
    data = load_galaxy10(noise_file)
    assert data.images.shape == (5, 3, 128, 128) and data.images.dtype == torch.float32
    crop = raw_images(noise_file)[:, :, 53:203, 53:203]
    expected = F.interpolate(crop, size=(128, 128), mode="bilinear", antialias=True)
    assert torch.allclose(data.images, expected, atol=1e-6)
    assert data.labels.tolist() == [3, 1, 4, 1, 5]
    assert data.class_names == list(GALAXY10_CLASSES) and data.name == "galaxy10"


def test_the_border_outside_the_crop_never_leaks_in(tmp_path: Path) -> None:
    images = np.full((2, 256, 256, 3), 255, np.uint8)
    images[:, 53:203, 53:203] = np.array([10, 20, 30], np.uint8)
    path = write_galaxy10(tmp_path / "g.h5", images, np.array([0, 9]))
    data = load_galaxy10(path)
    expected = torch.tensor([10, 20, 30]).float().div(255).view(1, 3, 1, 1).expand(2, 3, 128, 128)
    assert torch.allclose(data.images, expected, atol=1e-6)


def test_chunks_and_limit_do_not_change_the_result(noise_file: Path) -> None:
    whole = load_galaxy10(noise_file, size=32)
    chunked = load_galaxy10(noise_file, size=32, chunk_size=2)
    assert torch.equal(whole.images, chunked.images)
    first = load_galaxy10(noise_file, size=32, limit=3, chunk_size=2)
    assert torch.equal(first.images, whole.images[:3]) and first.labels.tolist() == [3, 1, 4]
    assert len(load_galaxy10(noise_file, limit=100)) == 5


def test_class_names() -> None:
    assert len(GALAXY10_CLASSES) == 10
    assert GALAXY10_CLASSES[0] == "Disturbed" and GALAXY10_CLASSES[9] == "Edge-on with Bulge"


def test_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"Galaxy10_DECals\.h5"):
        load_galaxy10(tmp_path / "missing.h5")
    small = np.zeros((2, 69, 69, 3), np.uint8)
    small_file = write_galaxy10(tmp_path / "a.h5", small, np.zeros(2, np.uint8))
    with pytest.raises(ValueError, match="crop=150 is larger than the 69x69"):
        load_galaxy10(small_file)
    assert load_galaxy10(small_file, crop=64, size=32).shape == (3, 32, 32)
    import h5py

    with h5py.File(tmp_path / "b.h5", "w") as handle:
        handle.create_dataset("images", data=small)
    with pytest.raises(ValueError, match="no dataset 'ans'"):
        load_galaxy10(tmp_path / "b.h5")
    with pytest.raises(ValueError, match="limit must be"):
        load_galaxy10(small_file, limit=-1, crop=64)


def test_a_file_that_is_not_hdf5_is_named(tmp_path: Path) -> None:
    from PIL import Image

    png = tmp_path / "Galaxy10_DECals.h5"
    Image.new("RGB", (4, 4)).save(png, format="PNG")
    with pytest.raises(ValueError, match=r"Galaxy10_DECals\.h5 is not an HDF5 file"):
        load_galaxy10(png)
