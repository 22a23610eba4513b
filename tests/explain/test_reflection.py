import pytest
import torch
from torch import Tensor, nn

from leapfactual.explain import LatentReflection
from leapfactual.models import IdentityCodec

GRID = torch.rand(300, 2, generator=torch.Generator().manual_seed(0)) * 2 - 1


def two_class() -> nn.Linear:
    """Class 1 iff z_0 + 0.5 z_1 > 0.2: a hyperplane the probe should recover."""
    clf = nn.Linear(2, 2)
    with torch.no_grad():
        clf.weight.copy_(torch.tensor([[0.0, 0.0], [10.0, 5.0]]))
        clf.bias.copy_(torch.tensor([0.0, -2.0]))
    return clf


def three_class(z: Tensor) -> Tensor:
    """Logits of three classes whose regions meet at the origin, at 120 degrees."""
    angles = torch.tensor([0.0, 2.0944, 4.1888])
    directions = torch.stack([angles.cos(), angles.sin()], dim=1)
    return 8 * z @ directions.T


def probe_margin(explainer: LatentReflection, z: Tensor, source: Tensor, target: Tensor):
    w = explainer.weight_.float()
    b = explainer.bias_.float()
    scores = z @ w.T + b
    return scores.gather(1, target[:, None])[:, 0] - scores.gather(1, source[:, None])[:, 0]


def test_explain_before_fit_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"not fitted.*\.fit\(x\)"):
        LatentReflection(two_class(), IdentityCodec()).explain(GRID[:3], 1)


def test_fit_labels_default_to_the_classifiers_predictions() -> None:
    explainer = LatentReflection(two_class(), IdentityCodec()).fit(GRID)
    predicted = two_class()(GRID).argmax(dim=1)
    assert torch.equal(explainer.class_counts_, torch.bincount(predicted, minlength=2))
    agree = (GRID.double() @ explainer.weight_.T + explainer.bias_).argmax(dim=1) == predicted
    assert agree.float().mean() > 0.97


def test_reflection_mirrors_the_point_across_the_probes_hyperplane() -> None:
    explainer = LatentReflection(two_class(), IdentityCodec()).fit(GRID)
    z = torch.tensor([[-0.5, 0.0], [-0.2, -0.6], [0.0, -0.2]])
    exp = explainer.explain(z, 1)
    source, target = torch.zeros(3, dtype=torch.long), torch.ones(3, dtype=torch.long)
    before = probe_margin(explainer, z, source, target)
    after = probe_margin(explainer, exp.z_cf, source, target)
    assert (before < 0).all()
    assert torch.allclose(after, -before, atol=1e-4)  # s = 2: as far past as it was before
    w = (explainer.weight_[1] - explainer.weight_[0]).float()
    move = exp.z_cf - z
    assert torch.allclose(move / move.norm(dim=1, keepdim=True), (w / w.norm()).expand(3, 2))
    assert exp.valid.all()  # the probe matches the classifier, so the classifier flips too
    cost = exp.cost
    assert (cost.encoder, cost.decoder, cost.classifier, cost.gradient_steps) == (3, 3, 6, 0)


def test_scale_one_lands_on_the_hyperplane() -> None:
    explainer = LatentReflection(two_class(), IdentityCodec(), scale=1.0).fit(GRID)
    z = torch.tensor([[-0.5, 0.0], [-0.2, -0.6]])
    exp = explainer.explain(z, 1)
    ones = torch.ones(2, dtype=torch.long)
    assert probe_margin(explainer, exp.z_cf, 0 * ones, ones).abs().max() < 1e-4


def test_three_classes_the_target_beats_the_source() -> None:
    explainer = LatentReflection(three_class, IdentityCodec()).fit(GRID)
    z = torch.tensor([[0.5, 0.0], [0.5, 0.05], [-0.3, 0.4], [-0.2, -0.5]])
    target = torch.tensor([1, 2, 0, 1])
    exp = explainer.explain(z, target)
    source = (z.double() @ explainer.weight_.T + explainer.bias_).argmax(dim=1)
    assert (probe_margin(explainer, exp.z_cf, source, target) > 0).all()
    assert exp.valid.all()


def test_a_sample_already_in_the_target_class_is_unchanged() -> None:
    explainer = LatentReflection(two_class(), IdentityCodec()).fit(GRID)
    z = torch.tensor([[0.8, 0.3]])
    assert torch.equal(explainer.explain(z, 1).z_cf, z)


def test_deterministic() -> None:
    a = LatentReflection(two_class(), IdentityCodec()).fit(GRID).explain(GRID[:20], 1)
    b = LatentReflection(two_class(), IdentityCodec()).fit(GRID).explain(GRID[:20], 1)
    assert torch.equal(a.z_cf, b.z_cf)


def test_explicit_labels_and_their_errors() -> None:
    explainer = LatentReflection(three_class, IdentityCodec())
    labels = torch.zeros(300, dtype=torch.long)
    labels[GRID[:, 0] > 0] = 1
    explainer.fit(GRID, labels)
    assert explainer.class_counts_.tolist() == [int((labels == 0).sum()), int(labels.sum())]
    with pytest.raises(ValueError, match=r"no samples of target class\(es\) \[2\]"):
        explainer.explain(GRID[:2], 2)
    with pytest.raises(ValueError, match="one class per image"):
        explainer.fit(GRID, labels[:10])
    with pytest.raises(ValueError, match="at least two classes"):
        explainer.fit(GRID, torch.zeros(300, dtype=torch.long))


def test_latents_must_match_the_fit() -> None:
    explainer = LatentReflection(lambda z: z[:, :2], IdentityCodec()).fit(GRID)
    with pytest.raises(ValueError, match="2-d latents"):
        explainer.explain(torch.zeros(2, 3), 1)


@pytest.mark.parametrize("kwargs", [{"scale": 0.0}, {"l2": -1.0}, {"max_iter": 0}])
def test_bad_settings_are_refused(kwargs) -> None:
    with pytest.raises(ValueError):
        LatentReflection(two_class(), IdentityCodec(), **kwargs)
