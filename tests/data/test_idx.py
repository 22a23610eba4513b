import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from leapfactual.data import (
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_DIR,
    load_fashion_mnist,
    load_idx,
    read_idx,
)

from .files import idx_arrays, write_idx


def test_read_idx_decodes_hand_written_bytes(tmp_path: Path) -> None:
    # uint8 [2, 2, 3]: magic 0x00000803, dims 2, 2, 3, then 12 bytes
    raw = bytes([0, 0, 8, 3]) + struct.pack(">3I", 2, 2, 3) + bytes(range(12))
    (tmp_path / "a").write_bytes(raw)
    out = read_idx(tmp_path / "a")
    assert out.dtype == np.uint8 and out.shape == (2, 2, 3)
    assert out.ravel().tolist() == list(range(12))
    # big-endian int32 [2]: 258 = 0x00000102 and -1
    raw = bytes([0, 0, 0x0C, 1]) + struct.pack(">I", 2) + bytes([0, 0, 1, 2, 255, 255, 255, 255])
    (tmp_path / "b").write_bytes(raw)
    assert read_idx(tmp_path / "b").tolist() == [258, -1]


def test_read_idx_detects_gzip_by_content(tmp_path: Path) -> None:
    array = (np.arange(6).reshape(2, 3) / 4).astype(">f4")
    write_idx(tmp_path / "no-suffix", array, compress=True)
    out = read_idx(tmp_path / "no-suffix")
    assert out.dtype == np.float32 and out.dtype.isnative
    assert np.array_equal(out, array)


def test_read_idx_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing"):
        read_idx(tmp_path / "missing")
    (tmp_path / "text").write_text("hello world")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "text")
    data = write_idx(tmp_path / "cut", np.zeros((4, 3, 3), np.uint8)).read_bytes()
    (tmp_path / "cut").write_bytes(data[:-5])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        read_idx(tmp_path / "cut")
    (tmp_path / "cut.gz").write_bytes(gzip.compress(data)[:-10])
    with pytest.raises(ValueError, match="damaged gzip"):
        read_idx(tmp_path / "cut.gz")


@pytest.mark.parametrize(("split", "counts"), [("train", [12]), ("test", [6]), ("all", [12, 6])])
def test_load_idx_splits(idx_dir: Path, split: str, counts: list[int]) -> None:
    data = load_idx(idx_dir, split=split)
    expected_images = np.concatenate([idx_arrays(n, seed=n)[0] for n in counts])
    expected_labels = np.concatenate([idx_arrays(n, seed=n)[1] for n in counts])
    assert data.images.shape == (sum(counts), 1, 6, 5)
    assert torch.equal(data.images[:, 0], torch.from_numpy(expected_images).float() / 255)
    assert data.labels.tolist() == expected_labels.tolist()
    assert data.class_names == ["0", "1", "2"]
    assert data.name == "tiny-mnist"


def test_load_idx_options_and_dotted_names(tmp_path: Path) -> None:
    images, labels = idx_arrays(4, seed=0)
    write_idx(tmp_path / "train-images.idx3-ubyte", images)
    write_idx(tmp_path / "train-labels.idx1-ubyte", labels)
    data = load_idx(tmp_path, class_names=["x", "y", "z", "w"], name="kaggle")
    assert data.class_names == ["x", "y", "z", "w"] and data.name == "kaggle"


def test_load_idx_missing_files_are_named(tmp_path: Path) -> None:
    images, labels = idx_arrays(4, seed=0)
    write_idx(tmp_path / "train-images-idx3-ubyte", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
    assert len(load_idx(tmp_path, split="train")) == 4
    with pytest.raises(FileNotFoundError, match="has no t10k-images-idx3-ubyte"):
        load_idx(tmp_path, split="test")
    with pytest.raises(FileNotFoundError, match="not a directory"):
        load_idx(tmp_path / "nowhere")


def test_load_idx_mismatched_files(tmp_path: Path) -> None:
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((4, 2, 2), np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match=r"4 images but .* 3 labels"):
        load_idx(tmp_path)
    with pytest.raises(ValueError, match="split must be one of"):
        load_idx(tmp_path, split="validation")


def test_fashion_mnist_from_a_directory(tmp_path: Path) -> None:
    images = np.zeros((10, 28, 28), np.uint8)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images, compress=True)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.arange(10, dtype=np.uint8), True)
    data = load_fashion_mnist(tmp_path, split="test")
    assert data.class_names == list(FASHION_MNIST_CLASSES)
    assert data.class_names[0] == "T-shirt/top" and data.class_names[9] == "Ankle boot"
    assert data.name == "fashion-mnist"


def test_fashion_mnist_missing_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="fashion-mnist:DIR"):
        load_fashion_mnist(tmp_path)  # exists but holds no IDX files


def test_real_fashion_mnist_test_split() -> None:
    if not FASHION_MNIST_DIR.is_dir():  # `make test` installs it; in CI its absence fails
        if os.environ.get("CI"):
            pytest.fail("dataset-fashion-mnist is missing in CI: `make test` should install it")
        pytest.skip("dataset-fashion-mnist not installed")
    data = load_fashion_mnist(split="test")
    assert len(data) == 10_000 and data.shape == (1, 28, 28)
    assert torch.bincount(data.labels).tolist() == [1000] * 10
    assert data.images.mean().item() == pytest.approx(0.2868, abs=0.001)
