import numpy as np
import pytest
import torch

from leapfactual.data import Dataset, images_from_uint8


def make(n: int = 6, classes: int = 3) -> Dataset:
    images = torch.linspace(0, 1, n * 2 * 4 * 4).reshape(n, 2, 4, 4)
    labels = torch.arange(n) % classes
    return Dataset(images, labels, [f"c{k}" for k in range(classes)], "toy")


def test_properties() -> None:
    data = make()
    assert len(data) == 6
    assert data.shape == (2, 4, 4)
    assert data.num_classes == 3
    assert repr(data) == "Dataset(name='toy', 6 images of shape (2, 4, 4), 3 classes)"


def test_class_names_are_stored_as_a_list_of_str() -> None:
    data = Dataset(torch.zeros(2, 1, 2, 2), torch.tensor([0, 1]), ("a", "b"))
    assert data.class_names == ["a", "b"]
    assert data.name == "dataset"


@pytest.mark.parametrize(
    "indices",
    [[4, 1], torch.tensor([4, 1]), np.array([4, 1])],
    ids=["list", "tensor", "numpy"],
)
def test_subset_by_indices(indices) -> None:
    data = make()
    part = data.subset(indices)
    assert torch.equal(part.images, data.images[[4, 1]])
    assert part.labels.tolist() == [1, 1]
    assert part.class_names == data.class_names
    assert part.name == "toy"


def test_subset_by_mask_and_empty() -> None:
    data = make()
    mask = data.labels == 0
    assert data.subset(mask).labels.tolist() == [0, 0]
    empty = data.subset([])
    assert len(empty) == 0 and empty.shape == (2, 4, 4) and empty.num_classes == 3


def test_subset_rejects_bad_indices() -> None:
    data = make()
    with pytest.raises(IndexError, match="has 6 images"):
        data.subset([0, 6])
    with pytest.raises(ValueError, match="boolean mask must have shape"):
        data.subset(torch.ones(5, dtype=torch.bool))
    with pytest.raises(ValueError, match="1-D sequence of integers"):
        data.subset(torch.tensor([0.0, 1.0]))


@pytest.mark.parametrize(
    ("images", "labels", "names", "match"),
    [
        (torch.zeros(2, 4, 4), torch.tensor([0, 1]), ["a", "b"], r"\[N, C, H, W\]"),
        (torch.zeros(2, 1, 4, 4, dtype=torch.uint8), torch.tensor([0, 1]), ["a", "b"], "/ 255"),
        (torch.zeros(2, 1, 4, 4, dtype=torch.float64), torch.tensor([0, 1]), ["a", "b"], "float32"),
        (torch.full((2, 1, 4, 4), 255.0), torch.tensor([0, 1]), ["a", "b"], "divide by 255"),
        (torch.full((2, 1, 4, 4), -0.5), torch.tensor([0, 1]), ["a", "b"], r"lie in \[0, 1\]"),
        (torch.full((2, 1, 4, 4), float("nan")), torch.tensor([0, 1]), ["a", "b"], "NaN"),
        (torch.full((2, 1, 4, 4), float("inf")), torch.tensor([0, 1]), ["a", "b"], "inf"),
        (torch.zeros(2, 1, 4, 4), torch.tensor([0.0, 1.0]), ["a", "b"], "labels.long()"),
        (torch.zeros(2, 1, 4, 4), torch.tensor([0, 1], dtype=torch.int32), ["a", "b"], "int64"),
        (torch.zeros(2, 1, 4, 4), torch.tensor([0, 1, 1]), ["a", "b"], "3 labels for 2 images"),
        (torch.zeros(2, 1, 4, 4), torch.tensor([0, 2]), ["a", "b"], r"lie in \[0, 1\]"),
        (torch.zeros(2, 1, 4, 4), torch.tensor([0, 0]), ["a", "a"], "unique"),
        (torch.zeros(2, 1, 4, 4), torch.tensor([0, 0]), [], "class_names is empty"),
    ],
)
def test_validation_names_the_problem(images, labels, names, match) -> None:
    with pytest.raises(ValueError, match=match):
        Dataset(images, labels, names)


def test_non_tensors_are_refused() -> None:
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        Dataset(np.zeros((2, 1, 4, 4), np.float32), torch.tensor([0, 1]), ["a", "b"])


def test_images_from_uint8() -> None:
    grey = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    out = images_from_uint8(grey)
    assert out.dtype == torch.float32 and out.shape == (1, 1, 2, 2)
    assert out.flatten().tolist() == pytest.approx([0.0, 1.0, 0.2, 0.4])
    rgb = np.zeros((1, 2, 2, 3), dtype=np.uint8)
    rgb[..., 0] = 255
    out = images_from_uint8(rgb, channels_last=True)
    assert out.shape == (1, 3, 2, 2)
    assert out[0, 0].min() == 1.0 and out[0, 1:].max() == 0.0
    with pytest.raises(ValueError, match="uint8"):
        images_from_uint8(np.zeros((1, 2, 2), dtype=np.float32))
