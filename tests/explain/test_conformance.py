"""Every explainer of the library passes :func:`leapfactual.testing.check_explainer`; the
regression and diverse-CE variants pass their own checks on the same stand-in models."""

from __future__ import annotations

import tempfile
from collections.abc import Callable

import pytest
import torch
from torch import Tensor, nn

from leapfactual.explain import (
    Blend,
    CGMBased,
    Diversity,
    Explainer,
    Explanation,
    Inject,
    LatentAttack,
    LatentReflection,
    LeapFactual,
    OptBased,
    PixelAttack,
)
from leapfactual.flow import MLPField, Solver
from leapfactual.testing import StandIns, check_explainer, hardest_targets, images, stand_ins
from leapfactual.testing.conformance import CLASSES, LATENT, PIXELS

IMAGE = (1, 8, 8)


def make_models(dtype: torch.dtype = torch.float32, noise: float = 0.0) -> StandIns:
    return stand_ins(dtype, noise)


def build_leapfactual(m: StandIns) -> Explainer:
    return LeapFactual(
        m.classifier,
        m.codec,
        m.field,
        blend=Blend(0.1, 2),
        inject=Inject(0.0, 0.1, 1),
        solver=Solver("rk4", 2),
    )


def build_reflection(m: StandIns) -> Explainer:
    x = images(30, m.dtype, seed=7)
    return LatentReflection(m.classifier, m.codec).fit(x, labels=torch.arange(30) % CLASSES)


CASES: dict[str, Callable[[StandIns], Explainer]] = {
    "leapfactual": build_leapfactual,
    "opt": lambda m: OptBased(m.classifier, m.codec, steps=5),
    "cgm": lambda m: CGMBased(m.classifier, m.cvae),
    "latent_attack": lambda m: LatentAttack(m.classifier, m.codec, max_steps=8),
    "pixel_attack": lambda m: PixelAttack(m.classifier, max_steps=8),
    "reflection": build_reflection,
}


@pytest.mark.parametrize("name", list(CASES))
def test_explainer_conforms(name: str) -> None:
    check_explainer(CASES[name])


def test_every_exported_explainer_is_checked() -> None:
    import leapfactual.explain as explain

    exported = {
        obj.name
        for obj in vars(explain).values()
        if isinstance(obj, type) and issubclass(obj, Explainer) and obj is not Explainer
    }
    assert exported == set(CASES)


# -- regression targets ----------------------------------------------------------------------
TOLERANCE = 0.05


class TinyRegressor(nn.Module):
    """A linear regressor returning ``[B]`` values (``[B, 1]`` with ``column=True``)."""

    def __init__(self, column: bool = False) -> None:
        super().__init__()
        self.net = nn.Linear(PIXELS, 1)
        self.column = column

    def forward(self, x: Tensor) -> Tensor:
        out = self.net(x.flatten(1))
        return out if self.column else out[:, 0]


def make_regressor(column: bool = False) -> TinyRegressor:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return TinyRegressor(column)


def build_leapfactual_regression(m: StandIns, regressor: nn.Module) -> Explainer:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        field = MLPField(LATENT, 1, width=16, depth=2, condition="value", scale=(0.1, 0.3))
    return LeapFactual(
        regressor,
        m.codec,
        field,
        blend=Blend(0.1, 2),
        inject=Inject(0.0, 0.1, 1),
        solver=Solver("rk4", 2),
        outputs="value",
        tolerance=TOLERANCE,
    )


REGRESSION_CASES: dict[str, Callable[[StandIns, nn.Module], Explainer]] = {
    "leapfactual": build_leapfactual_regression,
    "opt": lambda m, r: OptBased(r, m.codec, steps=5, outputs="value", tolerance=TOLERANCE),
    "latent_attack": lambda m, r: LatentAttack(
        r, m.codec, max_steps=8, outputs="value", tolerance=TOLERANCE
    ),
}


@pytest.mark.parametrize("name", list(REGRESSION_CASES))
def test_regression_targets_conform(name: str) -> None:
    m, build = make_models(), REGRESSION_CASES[name]
    x = images(5)
    with torch.no_grad():
        before = make_regressor()(x)
    goal = before + 0.5
    exp = build(m, make_regressor()).explain(x, goal)
    assert exp.probs.shape == exp.probs_cf.shape == (5, 1)
    assert exp.source.is_floating_point() and torch.allclose(exp.source, before, atol=1e-5)
    assert torch.allclose(exp.target, goal.double().float()) and exp.tolerance == TOLERANCE
    assert torch.equal(exp.valid, (exp.probs_cf[:, 0] - exp.target).abs() <= TOLERANCE)
    assert exp.config["tolerance"] == TOLERANCE
    assert exp.x_cf.shape == x.shape and torch.isfinite(exp.x_cf).all()
    moved = (exp.probs_cf[:, 0] - before).abs()
    assert (moved > 1e-4).any(), "no CE moved the regressor's value"
    # a [B, 1] regressor, one number as target, batches split: the same CEs
    column = build(m, make_regressor(column=True))
    column.batch_size = 2
    split = column.explain(x, goal)
    assert torch.allclose(split.x_cf, exp.x_cf, atol=1e-5)
    assert torch.equal(build(m, make_regressor()).explain(x, goal).x_cf, exp.x_cf)
    one = build(m, make_regressor()).explain(x, 0.3)
    assert torch.allclose(one.target, torch.full((5,), 0.3))
    with tempfile.TemporaryDirectory() as tmp:
        exp.save(tmp)
        back = Explanation.load(tmp)
    assert back.tolerance == TOLERANCE and torch.equal(back.valid, exp.valid)
    for target, message in (
        (float("nan"), "finite"),
        (torch.zeros(3), "3 targets for 5 inputs"),
        ("4", "number or a 1-D tensor"),
    ):
        with pytest.raises(ValueError, match=message):
            build(m, make_regressor()).explain(x, target)  # type: ignore[arg-type]


def test_regression_needs_a_tolerance_and_a_value_flow() -> None:
    m, r = make_models(), make_regressor()
    for build in (
        lambda: OptBased(r, m.codec, outputs="value"),
        lambda: LatentAttack(r, m.codec, outputs="value", tolerance=float("inf")),
    ):
        with pytest.raises(ValueError, match="tolerance"):
            build()
    with pytest.raises(ValueError, match="for regressors"):
        OptBased(m.classifier, m.codec, tolerance=0.1)
    classes = build_leapfactual(m)
    assert isinstance(classes, LeapFactual)
    with pytest.raises(ValueError, match="needs a flow fitted on its values"):
        LeapFactual(r, m.codec, classes.field, outputs="value", tolerance=0.1)
    for build in (
        lambda: CGMBased(r, m.cvae, outputs="value"),
        lambda: PixelAttack(r, outputs="value"),
        lambda: LatentReflection(r, m.codec, outputs="value"),
    ):
        with pytest.raises(ValueError, match="explains classifiers only"):
            build()


def test_every_regression_explainer_is_checked() -> None:
    import leapfactual.explain as explain

    exported = {
        obj.name
        for obj in vars(explain).values()
        if isinstance(obj, type) and issubclass(obj, Explainer) and obj.regression
    }
    assert exported == set(REGRESSION_CASES)
    from leapfactual.explain import registered_methods

    assert {m.name for m in registered_methods().values() if m.regression} == exported


# -- diverse CEs -----------------------------------------------------------------------------
def build_diverse(m: StandIns, mechanism: str, seed: int | None = None) -> LeapFactual:
    explainer = build_leapfactual(m)
    assert isinstance(explainer, LeapFactual)
    explainer.diversity = Diversity(mechanism, spread=2.0)
    explainer.seed = seed
    return explainer


@pytest.mark.parametrize("mechanism", ["noise", "repel"])
def test_diverse_ces_conform(mechanism: str) -> None:
    m = make_models()
    x = images(4)
    target = hardest_targets(m, x)
    exp = build_diverse(m, mechanism).explain(x, target, diverse=3)
    assert len(exp) == 12 and exp.x_cf.shape == (12, *IMAGE)
    assert exp.variant is not None and exp.variant.tolist() == [0, 1, 2] * 4
    assert torch.equal(exp.x, x.repeat_interleave(3, 0))
    assert torch.equal(exp.target, target.repeat_interleave(3, 0))
    assert exp.cost.n == 12 and exp.valid.shape == (12,)
    single = build_leapfactual(m).explain(x, target)
    assert torch.allclose(exp.x_cf[::3], single.x_cf, atol=1e-6), "variant 0 is the usual CE"
    groups = exp.x_cf.view(4, 3, -1)
    assert (groups[:, 1] - groups[:, 0]).abs().amax(1).min() > 1e-4, "copies do not differ"
    split = build_diverse(m, mechanism)
    split.batch_size = 1
    again = split.explain(x, target, diverse=3)
    assert torch.allclose(again.x_cf, exp.x_cf, atol=1e-5), "depends on the batch"
    alone = build_diverse(m, mechanism).explain(x[2:3], target[2:3], diverse=3)
    assert torch.allclose(alone.x_cf, exp.x_cf[6:9], atol=1e-5)
    other = build_diverse(m, mechanism, seed=5).explain(x, target, diverse=3)
    assert not torch.allclose(other.x_cf, exp.x_cf), "the seed has no effect"
    with tempfile.TemporaryDirectory() as tmp:
        exp.save(tmp)
        assert torch.equal(Explanation.load(tmp).variant, exp.variant)


@pytest.mark.parametrize("name", list(CASES))
def test_diverse_is_named(name: str) -> None:
    m = make_models()
    x = images(2)
    explainer = CASES[name](m)
    with pytest.raises(ValueError, match="diverse is a number"):
        explainer.explain(x, 1, diverse=0)
    if name != "leapfactual":
        with pytest.raises(ValueError, match="makes one CE per input"):
            explainer.explain(x, 1, diverse=2)
