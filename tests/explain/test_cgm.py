import pytest
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from leapfactual.explain import CGMBased


class RecordingCVAE(nn.Module):
    """A conditional codec that records the conditions it is given."""

    def __init__(self, sample: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.enc = nn.Linear(6 + 3, 2)
        self.dec = nn.Linear(2 + 3, 6)
        self.sample = sample
        self.seen: dict[str, Tensor] = {}

    def encode(self, x: Tensor, cond: Tensor) -> Tensor:
        self.seen["encode"] = cond
        z = self.enc(torch.cat([x, cond], dim=1))
        return z + torch.randn_like(z) if self.sample else z

    def decode(self, z: Tensor, cond: Tensor) -> Tensor:
        self.seen["decode"] = cond
        return torch.sigmoid(self.dec(torch.cat([z, cond], dim=1)))


def classifier() -> nn.Module:
    torch.manual_seed(1)
    return nn.Linear(6, 3)


X = torch.rand(4, 6, generator=torch.Generator().manual_seed(2))
TARGET = torch.tensor([2, 0, 1, 2])


def test_encodes_under_the_softmax_and_decodes_under_the_one_hot() -> None:
    cvae = RecordingCVAE()
    exp = CGMBased(classifier(), cvae).explain(X, TARGET)
    assert torch.equal(cvae.seen["encode"], exp.probs)
    assert torch.allclose(exp.probs, classifier()(X).softmax(dim=1))
    assert torch.equal(cvae.seen["decode"], F.one_hot(TARGET, 3).float())
    with torch.no_grad():
        expected = cvae.decode(cvae.encode(X, exp.probs), F.one_hot(TARGET, 3).float())
    assert torch.allclose(exp.x_cf, expected)
    assert torch.equal(exp.z, exp.z_cf)  # the latent stays, the condition changes
    assert exp.steps.tolist() == [1] * 4
    c = exp.cost
    assert (c.encoder, c.decoder, c.classifier, c.gradient_steps) == (4, 4, 8, 0)


def test_onehot_source_condition() -> None:
    cvae = RecordingCVAE()
    exp = CGMBased(classifier(), cvae, condition="onehot").explain(X, TARGET)
    assert torch.equal(cvae.seen["encode"], F.one_hot(exp.source, 3).float())


def test_a_black_box_classifier_is_enough() -> None:
    model = classifier()

    def annotator(x: Tensor) -> Tensor:  # no gradients, probabilities out
        return torch.from_numpy(model(x).softmax(dim=1).detach().numpy())

    exp = CGMBased(annotator, RecordingCVAE(), outputs="probs").explain(X, TARGET)
    assert exp.x_cf.shape == X.shape


def test_a_sampling_encoder_is_reproducible_with_the_seed() -> None:
    a = CGMBased(classifier(), RecordingCVAE(sample=True), seed=3).explain(X, TARGET)
    b = CGMBased(classifier(), RecordingCVAE(sample=True), seed=3).explain(X, TARGET)
    c = CGMBased(classifier(), RecordingCVAE(sample=True), seed=4).explain(X, TARGET)
    assert torch.equal(a.z, b.z) and torch.equal(a.x_cf, b.x_cf)
    assert not torch.equal(a.z, c.z)


def test_bad_models_are_named() -> None:
    with pytest.raises(ValueError, match="encode"):
        CGMBased(classifier(), object())
    with pytest.raises(ValueError, match="condition"):
        CGMBased(classifier(), RecordingCVAE(), condition="logits")

    class Wrong(RecordingCVAE):
        def decode(self, z: Tensor, cond: Tensor) -> Tensor:
            return super().decode(z, cond)[:, :5]

    with pytest.raises(ValueError, match=r"shape \(4, 5\)"):
        CGMBased(classifier(), Wrong()).explain(X, TARGET)

    class FourClasses(RecordingCVAE):
        def __init__(self) -> None:
            super().__init__()
            self.enc = nn.Linear(6 + 4, 2)

    with pytest.raises(ValueError, match="cVAE encoder"):
        CGMBased(classifier(), FourClasses()).explain(X, TARGET)
