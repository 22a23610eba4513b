"""One conformance check that every explainer passes (like scikit-learn's ``check_estimator``).

``check_explainer`` runs the same checks on any explainer, built by a factory on tiny stand-in
models (a linear encoder, a linear + sigmoid decoder, a linear classifier on 1x8x8 images and
a linear conditional VAE): shapes and ranges, dtype and device, batches of one and many,
independence from the batch, determinism and seeding, cost counters, named errors for bad
input, no side effects on the user's models or inputs, and a save / load round trip.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

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

IMAGE = (1, 8, 8)
PIXELS = 64
LATENT = 4
CLASSES = 3


class TinyCodec(nn.Module):
    """Linear encoder, linear + sigmoid decoder."""

    def __init__(self) -> None:
        super().__init__()
        self.enc = nn.Linear(PIXELS, LATENT)
        self.dec = nn.Linear(LATENT, PIXELS)

    def encode(self, x: Tensor) -> Tensor:
        return self.enc(x.flatten(1))

    def decode(self, z: Tensor) -> Tensor:
        return torch.sigmoid(self.dec(z)).view(-1, *IMAGE)


class TinyCVAE(nn.Module):
    """The conditional codec interface: encode(x, cond), decode(z, cond)."""

    def __init__(self) -> None:
        super().__init__()
        self.enc = nn.Linear(PIXELS + CLASSES, LATENT)
        self.dec = nn.Linear(LATENT + CLASSES, PIXELS)

    def encode(self, x: Tensor, cond: Tensor) -> Tensor:
        return self.enc(torch.cat([x.flatten(1), cond], dim=1))

    def decode(self, z: Tensor, cond: Tensor) -> Tensor:
        return torch.sigmoid(self.dec(torch.cat([z, cond], dim=1))).view(-1, *IMAGE)


class TinyClassifier(nn.Module):
    """Linear logits; ``noise`` > 0 adds Gaussian noise (a stochastic model, for seeding)."""

    def __init__(self, noise: float = 0.0) -> None:
        super().__init__()
        self.net = nn.Linear(PIXELS, CLASSES)
        self.noise = noise

    def forward(self, x: Tensor) -> Tensor:
        out = self.net(x.flatten(1))
        return out + self.noise * torch.randn_like(out) if self.noise else out


@dataclass
class Models:
    classifier: TinyClassifier
    codec: TinyCodec
    cvae: TinyCVAE
    dtype: torch.dtype

    def modules(self) -> list[nn.Module]:
        return [self.classifier, self.codec, self.cvae]


def make_models(dtype: torch.dtype = torch.float32, noise: float = 0.0) -> Models:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        models = Models(TinyClassifier(noise), TinyCodec(), TinyCVAE(), dtype)
    for module in models.modules():
        module.to(dtype)
    return models


def images(n: int, dtype: torch.dtype = torch.float32, seed: int = 1) -> Tensor:
    return torch.rand(n, *IMAGE, generator=torch.Generator().manual_seed(seed)).to(dtype)


def hardest_targets(models: Models, x: Tensor) -> Tensor:
    """The least likely class of each input: never met at the start, so methods must work."""
    with torch.no_grad():
        return models.classifier(x).argmin(dim=1)


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Models], Explainer]
    latent: bool  # returns z / z_cf and uses a codec
    gradient: bool  # takes gradient steps


def build_leapfactual(m: Models) -> Explainer:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        field = MLPField(LATENT, CLASSES, width=16, depth=2).to(m.dtype)
    return LeapFactual(
        m.classifier,
        m.codec,
        field,
        blend=Blend(0.1, 2),
        inject=Inject(0.0, 0.1, 1),
        solver=Solver("rk4", 2),
    )


def build_reflection(m: Models) -> Explainer:
    x = images(30, m.dtype, seed=7)
    return LatentReflection(m.classifier, m.codec).fit(x, labels=torch.arange(30) % CLASSES)


CASES = [
    Case("leapfactual", build_leapfactual, latent=True, gradient=False),
    Case("opt", lambda m: OptBased(m.classifier, m.codec, steps=5), latent=True, gradient=True),
    Case("cgm", lambda m: CGMBased(m.classifier, m.cvae), latent=True, gradient=False),
    Case(
        "latent_attack",
        lambda m: LatentAttack(m.classifier, m.codec, max_steps=8),
        latent=True,
        gradient=True,
    ),
    Case(
        "pixel_attack",
        lambda m: PixelAttack(m.classifier, max_steps=8),
        latent=False,
        gradient=True,
    ),
    Case("reflection", build_reflection, latent=True, gradient=False),
]


# -- the checks ------------------------------------------------------------------------------
def check_fields_shapes_and_ranges(case: Case) -> None:
    m = make_models()
    x = images(5)
    target = hardest_targets(m, x)
    explainer = case.build(m)
    exp = explainer.explain(x, target)
    assert isinstance(exp, Explanation) and exp.method == explainer.name and len(exp) == 5
    assert exp.x_cf.shape == x.shape and torch.isfinite(exp.x_cf).all()
    assert exp.x_cf.min() >= 0 and exp.x_cf.max() <= 1
    assert exp.probs.shape == exp.probs_cf.shape == (5, CLASSES)
    assert torch.allclose(exp.probs_cf.sum(dim=1), torch.ones(5), atol=1e-5)
    assert torch.equal(exp.target, target)
    assert torch.equal(exp.source, exp.probs.argmax(dim=1))
    assert exp.valid.shape == (5,) and exp.valid.dtype == torch.bool
    assert exp.steps is not None and exp.steps.shape == (5,) and (exp.steps >= 0).all()
    if case.latent:
        assert exp.z is not None and exp.z_cf is not None
        assert exp.z.shape == exp.z_cf.shape == (5, LATENT)
    else:
        assert exp.z is None and exp.z_cf is None
    config = exp.config
    assert config["method"] == explainer.name
    assert json.loads(json.dumps(config)) == config


def check_dtype_and_device(case: Case) -> None:
    for dtype in (torch.float32, torch.float64):
        m = make_models(dtype)
        x = images(3, dtype)
        exp = case.build(m).explain(x, hardest_targets(m, x))
        assert exp.x_cf.dtype == dtype, dtype
        assert exp.x_cf.device == x.device
        for name, tensor in exp.tensors().items():
            assert tensor.device == x.device, name
        if case.latent:
            assert exp.z_cf.dtype == dtype


def check_batches_of_one_and_many(case: Case) -> None:
    m = make_models()
    x = images(7)
    target = hardest_targets(m, x)
    whole = case.build(m).explain(x, target)
    split = case.build(m)
    split.batch_size = 3
    parts = split.explain(x, target)
    one = case.build(m).explain(x[4:5], target[4:5])
    assert len(one) == 1 and one.x_cf.shape == (1, *IMAGE)
    # each sample's result does not depend on the rest of its batch
    assert torch.allclose(whole.x_cf, parts.x_cf, atol=1e-5)
    assert torch.allclose(whole.x_cf[4:5], one.x_cf, atol=1e-5)
    assert torch.allclose(whole.probs_cf, parts.probs_cf, atol=1e-5)
    assert torch.equal(whole.steps, parts.steps)


def check_targets_int_or_tensor(case: Case) -> None:
    m = make_models()
    x = images(4)
    by_int = case.build(m).explain(x, 2)
    by_tensor = case.build(m).explain(x, torch.full((4,), 2))
    assert by_int.target.tolist() == [2] * 4
    assert torch.equal(by_int.x_cf, by_tensor.x_cf)


def check_deterministic(case: Case) -> None:
    m = make_models()
    x = images(4)
    target = hardest_targets(m, x)
    a = case.build(m).explain(x, target)
    torch.rand(3)  # the caller's random stream moves on between the calls
    b = case.build(m).explain(x, target)
    assert torch.equal(a.x_cf, b.x_cf) and torch.equal(a.probs_cf, b.probs_cf)


def check_seed_controls_randomness(case: Case) -> None:
    m = make_models(noise=0.5)  # a stochastic classifier
    x = images(4)
    target = torch.tensor([0, 1, 2, 0])
    explainer = case.build(m)
    if explainer.seed is None:  # no random choices of its own; draws from the caller's stream
        return
    state = torch.get_rng_state()
    a = explainer.explain(x, target)
    assert torch.equal(torch.get_rng_state(), state), "the caller's random state changed"
    b = case.build(m).explain(x, target)
    assert torch.equal(a.x_cf, b.x_cf) and torch.equal(a.probs_cf, b.probs_cf)
    other = case.build(m)
    other.seed = explainer.seed + 1
    c = other.explain(x, target)
    assert not torch.equal(a.probs_cf, c.probs_cf), "the seed has no effect"


def check_cost_counters(case: Case) -> None:
    m = make_models()
    x = images(5)
    exp = case.build(m).explain(x, hardest_targets(m, x))
    cost = exp.cost
    assert cost.n == 5 and cost.seconds > 0
    assert cost.classifier >= 2 * 5  # the inputs and at least the counterfactuals
    if case.latent:
        assert cost.encoder >= 5 and cost.decoder >= 5
    else:
        assert cost.encoder == cost.decoder == 0
    if case.gradient:
        assert cost.gradient_steps >= 5
        assert cost.gradient_steps == int(exp.steps.sum())
    else:
        assert cost.gradient_steps == 0
    assert (cost.field > 0) == (case.name == "leapfactual")
    assert set(cost.per_ce()) >= {"encoder", "decoder", "classifier", "gradient_steps"}


BAD_INPUTS = [
    (torch.full((2, *IMAGE), float("nan")), 1, "NaN"),
    (torch.zeros(2, 1, 7, 7), 1, r"shape \(2, 1, 7, 7\)"),
    (torch.zeros(0, *IMAGE), 1, "non-empty"),
    (torch.zeros(2, *IMAGE, dtype=torch.long), 1, "float tensor"),
    (torch.zeros(2, *IMAGE), CLASSES, r"\[0, 2\]"),
    (torch.zeros(2, *IMAGE), -1, r"\[0, 2\]"),
    (torch.zeros(2, *IMAGE), torch.tensor([0, 1, 2]), "3 targets for 2 inputs"),
    (torch.zeros(2, *IMAGE), torch.tensor([0.0, 1.0]), "integer tensor"),
]


def check_bad_input_is_named(case: Case) -> None:
    m = make_models()
    explainer = case.build(m)
    for x, target, message in BAD_INPUTS:
        with pytest.raises(ValueError, match=message):
            explainer.explain(x, target)


def check_no_side_effects(case: Case) -> None:
    m = make_models()
    m.codec.dec.requires_grad_(False)  # a partly frozen user model must stay as it was
    m.classifier.eval()
    flags = {id(p): p.requires_grad for mod in m.modules() for p in mod.parameters()}
    values = [p.detach().clone() for mod in m.modules() for p in mod.parameters()]
    x = images(4)
    x_before = x.clone()
    target = hardest_targets(m, x)
    explainer = case.build(m)
    plain = explainer.explain(x, target)
    with torch.no_grad():
        no_grad = explainer.explain(x, target)
    with torch.inference_mode():
        inference = explainer.explain(x, target)
    assert torch.equal(plain.x_cf, no_grad.x_cf) and torch.equal(plain.x_cf, inference.x_cf)
    assert torch.equal(x, x_before), "the input was modified"
    assert not plain.x_cf.requires_grad
    assert not m.classifier.training and m.codec.training
    params = [p for mod in m.modules() for p in mod.parameters()]
    for p, before in zip(params, values, strict=True):
        assert p.requires_grad == flags[id(p)], "requires_grad of a user parameter changed"
        assert p.grad is None, "gradients were accumulated on a user parameter"
        assert torch.equal(p.detach(), before), "a user parameter changed"


def check_save_load_round_trip(case: Case) -> None:
    m = make_models()
    x = images(3)
    exp = case.build(m).explain(x, hardest_targets(m, x))
    with tempfile.TemporaryDirectory() as tmp:
        exp.save(tmp)
        back = Explanation.load(tmp)
    assert back.method == exp.method and back.config == exp.config and back.cost == exp.cost
    for name, tensor in exp.tensors().items():
        assert torch.equal(tensor, getattr(back, name)), name


CHECKS = [
    check_fields_shapes_and_ranges,
    check_dtype_and_device,
    check_batches_of_one_and_many,
    check_targets_int_or_tensor,
    check_deterministic,
    check_seed_controls_randomness,
    check_cost_counters,
    check_bad_input_is_named,
    check_no_side_effects,
    check_save_load_round_trip,
]


def check_explainer(case: Case) -> None:
    """Run every conformance check on one explainer; name the check that fails."""
    for check in CHECKS:
        try:
            check(case)
        except Exception as err:
            raise AssertionError(f"{case.name} fails {check.__name__}: {err!r}") from err


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_explainer_conforms(case: Case) -> None:
    check_explainer(case)


def test_every_exported_explainer_is_checked() -> None:
    import leapfactual.explain as explain

    exported = {
        obj.name
        for obj in vars(explain).values()
        if isinstance(obj, type) and issubclass(obj, Explainer) and obj is not Explainer
    }
    assert exported == {c.name for c in CASES}


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


def build_leapfactual_regression(m: Models, regressor: nn.Module) -> Explainer:
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


REGRESSION_CASES: dict[str, Callable[[Models, nn.Module], Explainer]] = {
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
    from leapfactual.explain.registry import METHODS

    assert {m.name for m in METHODS.values() if m.regression} == exported


# -- diverse CEs -----------------------------------------------------------------------------
def build_diverse(m: Models, mechanism: str, seed: int | None = None) -> LeapFactual:
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


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_diverse_is_named(case: Case) -> None:
    m = make_models()
    x = images(2)
    explainer = case.build(m)
    with pytest.raises(ValueError, match="diverse is a number"):
        explainer.explain(x, 1, diverse=0)
    if case.name != "leapfactual":
        with pytest.raises(ValueError, match="makes one CE per input"):
            explainer.explain(x, 1, diverse=2)
