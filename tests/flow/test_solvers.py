import math

import pytest
import torch

from leapfactual.flow import Solver, integrate


def decay(t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """dz/dt = -z t, solution z(t) = z0 exp(-t^2 / 2)."""
    return -z * t


def error(method: str, steps: int) -> float:
    z0 = torch.tensor([[1.0, -2.0]], dtype=torch.float64)
    z1 = integrate(decay, z0, 0.0, 2.0, Solver(method, steps))
    return float((z1 - z0 * math.exp(-2.0)).abs().max())


@pytest.mark.parametrize(("method", "order"), [("euler", 1), ("midpoint", 2), ("rk4", 4)])
def test_fixed_step_order_of_accuracy(method: str, order: int) -> None:
    observed = math.log2(error(method, 20) / error(method, 40))
    assert observed == pytest.approx(order, abs=0.3)


def test_adaptive_dopri5_meets_tolerance() -> None:
    assert error("dopri5", 1) < 1e-4


def test_backward_integration_inverts_forward() -> None:
    z0 = torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    there = integrate(decay, z0, 0.0, 1.0, Solver("rk4", 10))
    back = integrate(decay, there, 1.0, 0.0, Solver("rk4", 10))
    assert torch.allclose(back, z0, atol=1e-6)


def test_path_has_every_state() -> None:
    z0 = torch.ones(2, 1)
    path = integrate(decay, z0, 0.0, 1.0, Solver("euler", 4), path=True)
    assert path.shape == (5, 2, 1)
    assert torch.equal(path[0], z0)


def test_fixed_step_is_independent_of_batch() -> None:
    def f(t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return torch.sin(z) * (1 + t)

    z = torch.randn(7, 4, generator=torch.Generator().manual_seed(1))
    whole = integrate(f, z, 0.0, 1.0, Solver("rk4", 5))
    one = torch.cat([integrate(f, z[i : i + 1], 0.0, 1.0, Solver("rk4", 5)) for i in range(7)])
    assert torch.equal(whole, one)


@pytest.mark.parametrize("bad", [{"method": "heun3"}, {"steps": 0}, {"atol": 0.0}])
def test_bad_solver_settings_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError, match=r"solver|steps|atol"):
        Solver(**bad)


class Counted:
    """A constant field that records the time of every evaluation."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def __call__(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        self.times.append(float(t))
        return torch.ones_like(z)


def test_checkpoints_end_a_step_on_every_grid_time() -> None:
    field = Counted()
    z1 = integrate(field, torch.zeros(3, 2), 0.0, 1.0, Solver("dopri5", checkpoints=5))
    assert torch.allclose(z1, torch.ones(3, 2))
    for stop in (0.25, 0.5, 0.75):  # FSAL: a step's last stage is the field at its end
        assert any(abs(t - stop) < 1e-6 for t in field.times)


def test_checkpoints_cost_one_dopri5_step_per_extra_interval() -> None:
    """Dormand-Prince evaluates 6 times per step (first same as last) plus 2 to choose the
    first step: on a constant field every interval between checkpoints is one step."""
    counts = {}
    for k in (2, 3, 5):
        field = Counted()
        integrate(field, torch.zeros(3, 2), 0.0, 1.0, Solver("dopri5", checkpoints=k))
        counts[k] = len(field.times)
    assert (counts[3] - counts[2], counts[5] - counts[2]) == (6, 18)
    assert (counts[2] - 2) % 6 == 0


def test_checkpoints_apply_backward_too() -> None:
    field = Counted()
    z0 = torch.ones(2, 2)
    z1 = integrate(field, z0, 1.0, 0.0, Solver("dopri5", checkpoints=5))
    assert torch.allclose(z1, torch.zeros(2, 2), atol=1e-6)
    assert any(abs(t - 0.25) < 1e-6 for t in field.times)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({"method": "rk4", "checkpoints": 5}, "adaptive"),
        ({"method": "dopri5", "checkpoints": 1}, ">= 2"),
    ],
)
def test_bad_checkpoints_are_refused(bad: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Solver(**bad)
