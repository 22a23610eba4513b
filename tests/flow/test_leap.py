import pytest
import torch

from leapfactual.flow import MLPField, Solver, leap


def make_field(seed: int = 0) -> MLPField:
    torch.manual_seed(seed)
    return MLPField(latent_dim=6, cond_dim=3, width=32, depth=2).double()


def test_lift_then_land_same_condition_returns_start() -> None:
    field = make_field()
    z = torch.randn(16, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    c = field.condition.from_labels(torch.arange(16) % 3, torch.float64)
    with torch.no_grad():
        back = leap(field, z, c, c, 1.0, 1.0, Solver("rk4", 20))
    assert (back - z).abs().max() < 1e-4


def test_gamma_scales_displacement() -> None:
    field = make_field(1)
    z = torch.randn(8, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    c = field.condition.from_labels(torch.zeros(8, dtype=torch.long), torch.float64)
    t = field.condition.from_labels(torch.full((8,), 2), torch.float64)
    with torch.no_grad():
        small = (leap(field, z, c, t, 0.01, 0.01, Solver("rk4", 8)) - z).norm(dim=1)
        smaller = (leap(field, z, c, t, 0.005, 0.005, Solver("rk4", 8)) - z).norm(dim=1)
    assert torch.allclose(small / smaller, torch.full_like(small, 2.0), rtol=0.05)


def test_zero_gamma_skips_that_half() -> None:
    field = make_field()
    calls = []
    field.register_forward_pre_hook(lambda _m, a: calls.append(1))
    z = torch.randn(2, 6, dtype=torch.float64)
    c = field.condition.from_labels(torch.tensor([0, 1]), torch.float64)
    with torch.no_grad():
        leap(field, z, c, c, 0.0, 1.0, Solver("euler", 5))
    assert len(calls) == 5


def test_path_concatenates_lift_and_land() -> None:
    field = make_field()
    z = torch.randn(3, 6, dtype=torch.float64)
    c = field.condition.from_labels(torch.tensor([0, 1, 2]), torch.float64)
    with torch.no_grad():
        path = leap(field, z, c, c, 0.5, 0.5, Solver("midpoint", 4), path=True)
        end = leap(field, z, c, c, 0.5, 0.5, Solver("midpoint", 4))
    assert path.shape == (9, 3, 6)
    assert torch.equal(path[-1], end)


def test_wrong_latent_size_is_named() -> None:
    field = make_field()
    c = field.condition.from_labels(torch.tensor([0]))
    with pytest.raises(ValueError, match="6-d latents"):
        leap(field, torch.zeros(1, 5), c, c)


def test_wrong_condition_encoding_is_named() -> None:
    field = make_field()
    with pytest.raises(ValueError, match="'softmax' conditions over 3 classes"):
        leap(field, torch.zeros(2, 6), torch.tensor([0, 1]), torch.tensor([0, 1]))
