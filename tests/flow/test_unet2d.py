import pytest
import torch

from leapfactual.flow import Solver, UNet2DField, leap, load_field, save_field, train_flow


def test_shapes_for_grids_of_any_size() -> None:
    for shape in ((4, 8, 8), (2, 3, 5), (1, 1, 1)):
        field = UNet2DField(shape, 3, width=8, depth=2)
        z = torch.randn(2, field.latent_dim)
        assert field(torch.tensor(0.2), z, torch.eye(3)[[0, 2]]).shape == (2, field.latent_dim)


def test_neighbours_on_the_grid_are_neighbours() -> None:
    """A change at one latent position moves the velocity near it on the grid more than far
    from it (a flat field would not know the grid)."""
    torch.manual_seed(0)
    field = UNet2DField((1, 16, 16), 2, width=8, depth=1)
    z = torch.randn(1, 256)
    bumped = z.clone()
    bumped[0, 0] += 5.0  # position (0, 0)
    cond = torch.tensor([[1.0, 0.0]])
    with torch.no_grad():
        change = field(torch.tensor(0.5), bumped, cond) - field(torch.tensor(0.5), z, cond)
    grid = change.abs().reshape(16, 16)
    assert grid[:3, :3].mean() > 10 * grid[8:, 8:].mean()


def test_condition_changes_the_velocity() -> None:
    torch.manual_seed(0)
    field = UNet2DField((2, 4, 4), 4, width=8, depth=1)
    z = torch.randn(3, 32)
    a = field(torch.tensor(0.5), z, field.condition.from_labels(torch.tensor([0, 0, 0])))
    b = field(torch.tensor(0.5), z, field.condition.from_labels(torch.tensor([1, 1, 1])))
    assert not torch.allclose(a, b)


def test_flat_latent_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match=r"needs a spatial latent shape \(C, h, w\).*MLPField"):
        UNet2DField((16,), 2)


def test_trains_saves_and_leaps(tmp_path) -> None:
    torch.manual_seed(0)
    labels = torch.arange(128) % 2
    z = torch.randn(128, 2 * 4 * 4) * 0.2 + labels.float().unsqueeze(1) * 2
    field = UNet2DField((2, 4, 4), 2, width=8, depth=1, condition="class")
    history = train_flow(field, z, labels, epochs=6, batch_size=32, lr=2e-3, seed=0)
    assert history[-1] < history[0]
    save_field(field, tmp_path / "unet2d")
    loaded = load_field(tmp_path / "unet2d")
    assert isinstance(loaded, UNet2DField) and loaded.latent_shape == (2, 4, 4)
    with torch.no_grad():
        a = leap(field, z[:4], labels[:4], 1 - labels[:4], 0.5, 0.5, Solver("euler", 4))
        b = leap(loaded, z[:4], labels[:4], 1 - labels[:4], 0.5, 0.5, Solver("euler", 4))
    assert torch.allclose(a, b, atol=1e-6)
