import pytest
import torch
from torch import nn

from leapfactual.explain import LatentAttack
from leapfactual.models import IdentityCodec


def classifier() -> nn.Linear:
    """Two classes on 2-D latents: logit_1 - logit_0 = 4 z_0, so p(1) > 0.5 iff z_0 > 0."""
    clf = nn.Linear(2, 2)
    with torch.no_grad():
        clf.weight.copy_(torch.tensor([[-2.0, 0.0], [2.0, 0.0]]))
        clf.bias.zero_()
    return clf


STARTS = torch.tensor([[-0.1, 0.3], [-1.0, -0.2], [0.5, 0.0], [-0.4, 1.0]])


def test_stops_each_sample_as_soon_as_p_exceeds_tau() -> None:
    exp = LatentAttack(classifier(), IdentityCodec()).explain(STARTS, 1)
    assert (exp.probs_cf[:, 1] > 0.5).all()
    steps = exp.steps.tolist()
    assert steps[2] == 0  # already in the target class: untouched
    assert torch.equal(exp.z_cf[2], STARTS[2])
    assert 0 < steps[0] < steps[3] < steps[1] < 1000  # farther starts take longer
    for i in (0, 1, 3):  # one step fewer does not reach tau
        short = LatentAttack(classifier(), IdentityCodec(), max_steps=steps[i] - 1)
        assert short.explain(STARTS[i : i + 1], 1).probs_cf[0, 1] <= 0.5


def test_stopped_samples_do_not_move() -> None:
    exp = LatentAttack(classifier(), IdentityCodec(), lr=0.1).explain(STARTS, 1)
    assert exp.steps[0] < exp.steps[1] - 5  # the batch keeps running after sample 0 stopped
    alone = LatentAttack(classifier(), IdentityCodec(), lr=0.1).explain(STARTS[:1], 1)
    # Adam's momentum would have carried sample 0 further had it stayed in the optimisation
    assert torch.allclose(exp.z_cf[0], alone.z_cf[0], atol=1e-6)
    assert exp.steps[0] == alone.steps[0]
    assert torch.equal(exp.x_cf, exp.z_cf)  # x_cf is g(z_cf) at the stopping step


def test_no_distance_term_so_only_the_target_direction_moves() -> None:
    exp = LatentAttack(classifier(), IdentityCodec()).explain(STARTS, 1)
    assert torch.equal(exp.z_cf[:, 1], STARTS[:, 1])  # the gradient has no z_1 component


def test_max_steps_caps_the_search() -> None:
    exp = LatentAttack(classifier(), IdentityCodec(), lr=0.01, max_steps=5).explain(STARTS, 1)
    assert exp.steps.tolist() == [5, 5, 0, 5]
    assert exp.probs_cf[1, 1] < 0.5 and not exp.valid[1]


def test_cost_counts_one_evaluation_per_step_and_one_at_the_end() -> None:
    exp = LatentAttack(classifier(), IdentityCodec()).explain(STARTS, 1)
    evaluations = int((exp.steps + 1).sum())
    assert exp.cost.decoder == evaluations and exp.cost.encoder == 4
    assert exp.cost.classifier == 4 + evaluations
    assert exp.cost.gradient_steps == int(exp.steps.sum())


def test_probabilities_as_outputs_work_too() -> None:
    clf = classifier()
    exp = LatentAttack(lambda z: clf(z).softmax(dim=1), IdentityCodec(), outputs="probs")
    logits = LatentAttack(clf, IdentityCodec())
    assert torch.allclose(exp.explain(STARTS, 1).z_cf, logits.explain(STARTS, 1).z_cf, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs", [{"lr": -1.0}, {"tau": 0.0}, {"tau": 1.0}, {"max_steps": -1}, {"codec": None}]
)
def test_bad_settings_are_refused(kwargs) -> None:
    with pytest.raises(ValueError):
        LatentAttack(classifier(), **{"codec": IdentityCodec(), **kwargs})
