import pytest
import torch

from leapfactual import Blend, Explanation, Inject, LeapFactual, Solver
from leapfactual.models import IdentityCodec
from leapfactual.testing import QUADRANT_STARTS, quadrant_labels
from leapfactual.testing import quadrant_explainer as toy_explainer

STARTS = QUADRANT_STARTS
TARGET = 3


def test_black_box_function_classifier(toy_field) -> None:
    calls = []

    def annotator(points: torch.Tensor) -> torch.Tensor:
        calls.append(len(points))
        return torch.nn.functional.one_hot(quadrant_labels(points), 4).float()

    explainer = LeapFactual(
        annotator,
        IdentityCodec(),
        toy_field,
        outputs="probs",
        blend=Blend(0.1, 8),
        inject=Inject(0.0, 0.1, 3),
    )
    with torch.no_grad():
        exp = explainer.explain(STARTS, TARGET)
    assert exp.valid.all() and exp.valid_reliable.all()
    # 1 on the inputs + 1 on the reconstruction + 1 after each of the 8 blending leaps + 1
    # after the 3 injection leaps (a land uses no current condition)
    assert len(calls) == 11
    assert exp.cost.classifier == 11 * len(STARTS)


def test_injection_decodes_once_and_makes_the_ces_a_per_leap_loop_makes(toy_field) -> None:
    explainer = toy_explainer(toy_field)  # keeps latents: decodes after every leap
    slow = explainer.explain(STARTS, TARGET)
    explainer.trajectory = "none"
    fast = explainer.explain(STARTS, TARGET)
    for name in ("z_reliable", "x_reliable", "probs_reliable", "steps", "x_cf"):
        assert torch.equal(getattr(fast, name), getattr(slow, name)), name
    assert explainer.inject is not None
    saved = (explainer.inject.steps - 1) * len(STARTS)
    assert slow.cost.decoder - fast.cost.decoder == saved > 0


def test_explanation_fields_and_cost(toy_field) -> None:
    exp = toy_explainer(toy_field).explain(STARTS, TARGET)
    n = len(STARTS)
    assert exp.x_cf.shape == exp.x_reliable.shape == (n, 2)
    assert exp.trajectory.shape == (n, 12, 2)
    assert exp.trajectory_probs.shape == (n, 12, 4)
    assert torch.equal(exp.trajectory[:, 8], exp.z_cf)
    assert torch.equal(exp.trajectory[:, -1], exp.z_reliable)
    assert exp.steps.tolist() == [11] * n
    assert exp.source.tolist() == [0, 1, 2, 3]
    evals_per_leap = 2 * 16 * 4  # lift + land, 16 RK4 steps of 4 evaluations
    assert exp.cost.field == n * (8 * evals_per_leap + 3 * evals_per_leap // 2)
    assert exp.cost.decoder == n * 12 and exp.cost.encoder == n
    assert exp.cost.seconds > 0


def test_early_stop_drops_converged_samples(toy_field) -> None:
    fixed = toy_explainer(toy_field).explain(STARTS, TARGET)
    early = LeapFactual(
        lambda p: 10 * torch.nn.functional.one_hot(quadrant_labels(p), 4).float(),
        IdentityCodec(),
        toy_field,
        blend=Blend(0.1, 8, tol=1e-3),
        inject=None,
        solver=Solver("rk4", 16),
    ).explain(STARTS, TARGET)
    # the start already in quadrant 3 stops after one leap; the others keep moving
    assert early.steps[3] == 1
    assert (early.steps[:3] > 1).all()
    assert early.cost.field < fixed.cost.field
    assert torch.allclose(early.x_cf[3], STARTS[3], atol=1e-4)
    assert early.x_reliable is None and early.valid_reliable is None


def quadrant_explainer(toy_field, blend: Blend) -> LeapFactual:
    """The toy with its true quadrant rule as a confident black-box classifier."""
    return LeapFactual(
        lambda p: 10 * torch.nn.functional.one_hot(quadrant_labels(p), 4).float(),
        IdentityCodec(),
        toy_field,
        blend=blend,
        inject=None,
        solver=Solver("rk4", 16),
    )


def test_settle_stops_a_sample_once_it_is_in_the_target_class(toy_field) -> None:
    fixed = quadrant_explainer(toy_field, Blend(0.1, 8)).explain(STARTS, TARGET)
    settled = quadrant_explainer(toy_field, Blend(0.1, 8, settle=0.01)).explain(STARTS, TARGET)
    # the start already in quadrant 3 stops after its first leap; a sample stops only when
    # it is in the target class, so every one that stopped early is valid
    assert settled.steps[3] == 1
    early = settled.steps < 8
    assert settled.valid[early].all() and early.sum() >= 2
    assert settled.cost.decoder < fixed.cost.decoder
    assert settled.cost.classifier < fixed.cost.classifier
    long = ~early
    assert torch.equal(settled.x_cf[long], fixed.x_cf[long])


def test_boost_enlarges_only_the_leaps_before_the_target_class(toy_field) -> None:
    plain = quadrant_explainer(toy_field, Blend(0.1, 1)).explain(STARTS, TARGET)
    boosted = quadrant_explainer(toy_field, Blend(0.1, 1, boost=3.0)).explain(STARTS, TARGET)
    moved_plain = (plain.x_cf - STARTS).norm(dim=1)
    moved_boosted = (boosted.x_cf - STARTS).norm(dim=1)
    assert (moved_boosted[:3] > 2 * moved_plain[:3]).all()
    # already in quadrant 3: gamma as is (equal up to the batch's matrix-multiply blocking)
    assert torch.allclose(boosted.x_cf[3], plain.x_cf[3], atol=1e-6)
    assert boosted.cost.field == plain.cost.field  # same evaluations per sample


def test_batching_does_not_change_results(toy_field) -> None:
    x = torch.rand(10, 2, generator=torch.Generator().manual_seed(0)) - 0.5
    whole = toy_explainer(toy_field).explain(x, TARGET)
    small = toy_explainer(toy_field)
    small.batch_size = 3
    split = small.explain(x, TARGET)
    # same maths per sample; only the matrix-multiply blocking differs with the batch size
    assert torch.allclose(whole.x_reliable, split.x_reliable, atol=1e-6)
    assert torch.allclose(whole.trajectory, split.trajectory, atol=1e-6)
    assert torch.equal(whole.steps, split.steps)


def test_deterministic(toy_field) -> None:
    a = toy_explainer(toy_field).explain(STARTS, TARGET)
    b = toy_explainer(toy_field).explain(STARTS, TARGET)
    assert torch.equal(a.x_cf, b.x_cf) and torch.equal(a.x_reliable, b.x_reliable)


def test_save_load_round_trip_is_exact(toy_field, tmp_path) -> None:
    exp = toy_explainer(toy_field).explain(STARTS, torch.tensor([3, 2, 1, 0]))
    exp.save(tmp_path / "exp")
    back = Explanation.load(tmp_path / "exp")
    assert back.method == exp.method and back.config == exp.config and back.cost == exp.cost
    for name, tensor in exp.tensors().items():
        assert torch.equal(tensor, getattr(back, name)), name


def test_dtype_and_device_follow_the_input(toy_field) -> None:
    field64 = toy_field.double()
    try:
        exp = toy_explainer(field64).explain(STARTS.double(), TARGET)
        assert exp.x_cf.dtype == torch.float64 and exp.x_cf.device == STARTS.device
    finally:
        toy_field.float()


@pytest.mark.parametrize(
    ("x", "target", "message"),
    [
        (torch.zeros(0, 2), 3, "non-empty"),
        (torch.zeros(2, 2, dtype=torch.long), 3, "float tensor"),
        (torch.tensor([[float("nan"), 0.0]]), 3, "NaN"),
        (torch.zeros(2, 2), 4, r"\[0, 3\]"),
        (torch.zeros(2, 2), torch.tensor([1, 2, 3]), "3 targets for 2 inputs"),
        (torch.zeros(2, 3), 1, "2-d latents"),
    ],
)
def test_bad_input_is_named(toy_field, x, target, message) -> None:
    with pytest.raises(ValueError, match=message):
        toy_explainer(toy_field).explain(x, target)


def test_bad_schedules_are_refused() -> None:
    with pytest.raises(ValueError):
        Blend(gamma=0)
    with pytest.raises(ValueError, match="boost > 0"):
        Blend(boost=0)
    with pytest.raises(ValueError, match="settle > 0"):
        Blend(settle=0)
    with pytest.raises(ValueError):
        Inject(gamma_lift=0, gamma_land=0.1, steps=0)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Blend(gamma=float("nan")),
        lambda: Blend(gamma=float("inf")),
        lambda: Blend(tol=float("nan")),
        lambda: Blend(settle=float("nan")),
        lambda: Blend(boost=float("inf")),
        lambda: Inject(gamma_land=float("nan")),
        lambda: Inject(gamma_lift=float("inf")),
        lambda: Solver("dopri5", atol=float("nan")),
    ],
)
def test_non_finite_schedules_are_refused(make) -> None:
    with pytest.raises(ValueError, match="finite"):
        make()
