import pytest
import torch

from leapfactual.data.shapes import SHAPE_CLASSES, colour_shapes


def test_shapes_are_seeded_balanced_and_dim() -> None:
    data = colour_shapes(40, 32, seed=3)
    assert data.images.shape == (40, 3, 32, 32) and data.images.dtype == torch.float32
    assert data.class_names == list(SHAPE_CLASSES) and data.name == "colour-shapes"
    assert torch.bincount(data.labels).tolist() == [10, 10, 10, 10]
    assert float(data.images.min()) >= 0 and float(data.images.max()) <= 0.5
    again = colour_shapes(40, 32, seed=3)
    assert torch.equal(again.images, data.images) and torch.equal(again.labels, data.labels)
    assert not torch.equal(colour_shapes(40, 32, seed=4).images, data.images)
    assert colour_shapes(5, 64, seed=0).images.shape == (5, 3, 64, 64)


def test_label_is_colour_and_shape() -> None:
    data = colour_shapes(200, 32, seed=0)
    signal = data.images - data.images[:, :, :1, :1]  # corners are always background
    peak = signal.amax((2, 3))
    assert torch.equal(peak[:, 0] > peak[:, 2], data.labels // 2 == 0)  # red vs blue
    # area / (largest distance from the centroid)^2: pi for a circle, 2 for a square
    mask = signal.abs().amax(1)
    mask = mask / mask.amax((1, 2), keepdim=True)
    area = mask.sum((1, 2))
    grid = torch.arange(32) + 0.5
    cy = (mask.sum(2) * grid).sum(1) / area
    cx = (mask.sum(1) * grid).sum(1) / area
    dist2 = (grid[None, :, None] - cy[:, None, None]) ** 2 + (
        grid[None, None, :] - cx[:, None, None]
    ) ** 2
    reach = torch.where(mask > 0.5, dist2, torch.zeros_like(dist2)).amax((1, 2)).sqrt() + 0.5
    ratio = area / reach**2
    square = data.labels % 2 == 1
    assert ratio[square].max() < 2.45 < ratio[~square].min()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n": 0}, "n must be an integer >= 1"),
        ({"n": 2.5}, "n must be an integer >= 1"),
        ({"n": 4, "size": 4}, "size must be an integer >= 8"),
        ({"n": 4, "seed": 1.5}, "seed must be an integer"),
    ],
)
def test_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        colour_shapes(**kwargs)
