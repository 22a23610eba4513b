import pytest
import torch

from leapfactual.audit import change_regions, grid_cells, pixel_change


def _pair(*patches: tuple[int, int, int, float]) -> tuple[torch.Tensor, torch.Tensor]:
    """A grey 1x1x8x8 image and a copy with ``size``-squares at (row, col) raised by ``delta``."""
    x = torch.full((1, 1, 8, 8), 0.2)
    x_cf = x.clone()
    for row, col, size, delta in patches:
        x_cf[0, 0, row : row + size, col : col + size] += delta
    return x, x_cf


def test_components_are_numbered_by_decreasing_change() -> None:
    x, x_cf = _pair((0, 0, 2, 0.3), (5, 5, 3, 0.3))
    regions = change_regions(x, x_cf)
    assert regions.shape == (1, 8, 8) and regions.dtype == torch.int64
    assert (regions[0, 5:, 5:] == 1).all()  # 9 pixels: more change than the 4 at top-left
    assert (regions[0, :2, :2] == 2).all()
    assert (regions == 0).sum() == 64 - 13


def test_diagonal_pixels_are_one_component() -> None:
    x = torch.zeros(1, 1, 4, 4)
    x_cf = x.clone()
    x_cf[0, 0, [0, 1, 2], [0, 1, 2]] = 1.0
    assert set(change_regions(x, x_cf).unique().tolist()) == {0, 1}


def test_threshold_is_relative_and_channels_are_summed() -> None:
    x = torch.zeros(1, 3, 4, 4)
    x_cf = x.clone()
    x_cf[0, :, 0, 0] = 0.5  # change 1.5 summed over channels
    x_cf[0, 0, 3, 3] = 0.1  # change 0.1 < 0.1 * 1.5: below the threshold
    x_cf[0, 0, 0, 3] = 0.2  # 0.2 > 0.15: its own region
    assert torch.allclose(pixel_change(x, x_cf)[0, 0, 0], torch.tensor(1.5))
    regions = change_regions(x, x_cf, threshold=0.1)
    assert regions[0, 0, 0] == 1 and regions[0, 0, 3] == 2 and regions[0, 3, 3] == 0
    assert change_regions(x, x_cf, threshold=0.0)[0, 3, 3] == 3


def test_unchanged_images_have_no_regions() -> None:
    x = torch.rand(2, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    assert (change_regions(x, x.clone()) == 0).all()


def test_grid_mode_keeps_changed_pixels_of_changed_cells() -> None:
    x, x_cf = _pair((0, 0, 1, 0.5), (1, 1, 1, 0.5), (6, 6, 2, 0.4))
    regions = change_regions(x, x_cf, mode="grid", grid=4)
    # cell (0, 0) holds two separate pixels: one region; cell (3, 3) another
    assert regions[0, 0, 0] == regions[0, 1, 1] == 2
    assert (regions[0, 6:, 6:] == 1).all()
    assert regions[0, 0, 1] == 0 and regions.max() == 2
    cells = grid_cells(8, 8, 4)
    assert cells[0, 0] == 0 and cells[7, 7] == 15 and cells[2, 5] == 6


def test_max_regions_merges_the_smallest() -> None:
    x, x_cf = _pair((0, 0, 1, 0.3), (0, 4, 1, 0.5), (4, 0, 1, 0.7), (6, 6, 1, 0.9))
    regions = change_regions(x, x_cf, max_regions=2)
    assert regions[0, 6, 6] == 1 and regions[0, 4, 0] == 2
    assert regions[0, 0, 4] == 2 and regions[0, 0, 0] == 2


def test_bad_inputs_are_named() -> None:
    x, x_cf = _pair((0, 0, 1, 0.3))
    with pytest.raises(ValueError, match="x_cf has shape"):
        change_regions(x, x_cf[:, :, :4])
    with pytest.raises(ValueError, match="NaN or Inf"):
        change_regions(x, x_cf.clone().fill_(float("nan")))
    with pytest.raises(ValueError, match=r"\[B, C, H, W\]"):
        change_regions(x[0], x_cf[0])
    with pytest.raises(ValueError, match="threshold"):
        change_regions(x, x_cf, threshold=1.0)
    with pytest.raises(ValueError, match="unknown region mode"):
        change_regions(x, x_cf, mode="blobs")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="grid must lie"):
        change_regions(x, x_cf, mode="grid", grid=9)
