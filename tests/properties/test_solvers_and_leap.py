"""Properties of the solvers and of ``leap`` on random small fields (hypothesis)."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

from leapfactual.flow import MLPField, Solver, integrate, leap

SETTINGS = settings(max_examples=20, deadline=None, derandomize=True)
FIXED = st.sampled_from(["euler", "midpoint", "rk4"])
TOL = dict(rtol=1e-5, atol=1e-5)


def random_field(dim: int, seed: int):
    """``v(t, z) = tanh(A z + b t)`` with weights drawn from ``seed``: per-sample, smooth."""
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(dim, dim, generator=gen) / dim**0.5
    b = torch.randn(dim, generator=gen)

    def func(t: Tensor, z: Tensor) -> Tensor:
        return torch.tanh(z @ a.T + b * t)

    return func


def points(batch: int, dim: int, seed: int) -> Tensor:
    return torch.randn(batch, dim, generator=torch.Generator().manual_seed(seed + 1)) * 2


@SETTINGS
@given(
    method=FIXED,
    steps=st.integers(1, 6),
    batch=st.integers(1, 7),
    dim=st.integers(1, 5),
    seed=st.integers(0, 10_000),
    backward=st.booleans(),
)
def test_fixed_step_results_do_not_depend_on_the_batch(
    method: str, steps: int, batch: int, dim: int, seed: int, backward: bool
) -> None:
    func, z = random_field(dim, seed), points(batch, dim, seed)
    solver = Solver(method, steps)
    t0, t1 = (1.0, 0.0) if backward else (0.0, 1.0)
    whole = integrate(func, z, t0, t1, solver)
    assert whole.shape == z.shape and torch.isfinite(whole).all()
    one_by_one = torch.cat([integrate(func, z[i : i + 1], t0, t1, solver) for i in range(batch)])
    assert torch.allclose(whole, one_by_one, **TOL)
    order = torch.randperm(batch, generator=torch.Generator().manual_seed(seed))
    shuffled = integrate(func, z[order], t0, t1, solver)
    assert torch.allclose(shuffled, whole[order], **TOL)
    path = integrate(func, z, t0, t1, solver, path=True)
    assert path.shape == (steps + 1, batch, dim) and torch.equal(path[0], z)
    assert torch.allclose(path[-1], whole, **TOL)


@settings(max_examples=10, deadline=None, derandomize=True)
@given(
    method=st.sampled_from(["dopri5", "bosh3"]),
    batch=st.integers(1, 5),
    dim=st.integers(1, 4),
    seed=st.integers(0, 10_000),
)
def test_adaptive_solvers_give_finite_outputs_close_to_rk4(
    method: str, batch: int, dim: int, seed: int
) -> None:
    func, z = random_field(dim, seed), points(batch, dim, seed)
    out = integrate(func, z, 0.0, 1.0, Solver(method, atol=1e-7, rtol=1e-7))
    assert torch.isfinite(out).all()
    fine = integrate(func, z, 0.0, 1.0, Solver("rk4", 64))
    assert torch.allclose(out, fine, atol=1e-4)


def small_field(dim: int, classes: int, kind: str, seed: int) -> MLPField:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MLPField(dim, classes, width=8, depth=1, condition=kind)  # type: ignore[arg-type]


def conditions(field: MLPField, batch: int, seed: int) -> Tensor:
    gen = torch.Generator().manual_seed(seed + 2)
    probs = torch.randn(batch, field.condition.num_classes, generator=gen).softmax(1)
    return field.condition.from_probs(probs)


LEAP = dict(
    batch=st.integers(1, 6),
    dim=st.integers(1, 5),
    classes=st.integers(2, 4),
    kind=st.sampled_from(["softmax", "onehot", "class", "scalar"]),
    seed=st.integers(0, 10_000),
)


@SETTINGS
@given(**LEAP)
def test_lift_then_land_under_one_condition_with_gamma_1_returns_the_start(
    batch: int, dim: int, classes: int, kind: str, seed: int
) -> None:
    field = small_field(dim, classes, kind, seed)
    z, cond = points(batch, dim, seed), conditions(field, batch, seed)
    with torch.no_grad():
        back = leap(field, z, cond, cond, 1.0, 1.0, Solver("rk4", 16))
    assert torch.isfinite(back).all()
    assert torch.allclose(back, z, atol=1e-4), (back - z).abs().max()


@SETTINGS
@given(**LEAP, gammas=st.tuples(st.floats(0, 1), st.floats(0, 1)), method=FIXED)
def test_a_leap_of_a_batch_is_the_leap_of_each_sample(
    batch: int,
    dim: int,
    classes: int,
    kind: str,
    seed: int,
    gammas: tuple[float, float],
    method: str,
) -> None:
    field = small_field(dim, classes, kind, seed)
    z = points(batch, dim, seed)
    cond, target = conditions(field, batch, seed), conditions(field, batch, seed + 7)
    solver = Solver(method, 3)
    with torch.no_grad():
        whole = leap(field, z, cond, target, *gammas, solver)
        single = torch.cat(
            [
                leap(field, z[i : i + 1], cond[i : i + 1], target[i : i + 1], *gammas, solver)
                for i in range(batch)
            ]
        )
    assert torch.isfinite(whole).all() and whole.shape == z.shape
    assert torch.allclose(whole, single, **TOL)
    if gammas == (0.0, 0.0):
        assert torch.equal(whole, z)
