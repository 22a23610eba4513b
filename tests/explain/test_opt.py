import pytest
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from leapfactual.explain import OptBased

BLOCKS = torch.zeros(16, 3)
for k in range(3):
    BLOCKS[5 * k : 5 * k + 5, k] = 1.0  # latent k drives pixels 5k..5k+4; pixel 15 is unused


class Codec(nn.Module):
    """Linear encoder; decoder x = sigmoid(2 * BLOCKS z), so class k is reached by raising z_k."""

    def __init__(self) -> None:
        super().__init__()
        self.enc = nn.Linear(16, 3)
        self.dec = nn.Linear(3, 16)
        with torch.no_grad():
            self.dec.weight.copy_(2 * BLOCKS)
            self.dec.bias.zero_()

    def encode(self, x: Tensor) -> Tensor:
        return self.enc(x)

    def decode(self, z: Tensor) -> Tensor:
        return torch.sigmoid(self.dec(z))


def models() -> tuple[nn.Module, Codec]:
    """A classifier whose logit k is the brightness of block k."""
    torch.manual_seed(0)
    clf = nn.Linear(16, 3)
    with torch.no_grad():
        clf.weight.copy_(2 * BLOCKS.T)
        clf.bias.zero_()
    return clf, Codec()


def data(n: int = 6) -> Tensor:
    return torch.rand(n, 16, generator=torch.Generator().manual_seed(1))


def paper_loss(clf: nn.Module, codec: Codec, z: Tensor, x: Tensor, target: Tensor) -> Tensor:
    """The reference loss for one sample: MSE(softmax(f(g(z))), onehot) + 0.0006 L1(g(z), x)."""
    images = codec.decode(z)
    goal = F.one_hot(target, 3).float()
    return F.mse_loss(clf(images).softmax(dim=1), goal) + 0.0006 * F.l1_loss(images, x)


def test_defaults_are_the_papers() -> None:
    clf, codec = models()
    opt = OptBased(clf, codec)
    assert (opt.lr, opt.steps, opt.l1, opt.tau) == (0.2, 1000, 0.0006, None)


def test_each_sample_follows_the_reference_loop_whatever_its_batch() -> None:
    clf, codec = models()
    x = data()
    target = torch.tensor([0, 1, 2, 0, 1, 2])
    exp = OptBased(clf, codec, steps=15).explain(x, target)
    for i in (0, 3, 5):
        z = codec.encode(x[i : i + 1]).detach().requires_grad_(True)
        optimiser = torch.optim.AdamW([z], lr=0.2)
        for _ in range(15):
            optimiser.zero_grad()
            paper_loss(clf, codec, z, x[i : i + 1], target[i : i + 1]).backward()
            optimiser.step()
        assert torch.allclose(exp.z_cf[i], z.detach()[0], atol=1e-5), i
    clf.zero_grad()
    codec.zero_grad()


def test_lowers_its_loss_and_flips_a_linear_classifier() -> None:
    clf, codec = models()
    x = data()
    with torch.no_grad():
        target = clf(codec.decode(codec.encode(x))).argmin(dim=1)
    exp = OptBased(clf, codec, steps=100).explain(x, target)
    assert exp.valid.all()
    with torch.no_grad():
        for i in range(len(x)):
            before = paper_loss(clf, codec, exp.z[i : i + 1], x[i : i + 1], target[i : i + 1])
            after = paper_loss(clf, codec, exp.z_cf[i : i + 1], x[i : i + 1], target[i : i + 1])
            assert after < before / 4
    assert exp.steps.tolist() == [100] * len(x)


def test_cost_is_counted_exactly() -> None:
    clf, codec = models()
    exp = OptBased(clf, codec, steps=7).explain(data(4), 1)
    c = exp.cost
    assert (c.encoder, c.decoder, c.gradient_steps) == (4, 4 * 8, 4 * 7)
    assert c.classifier == 4 + 4 * 8  # the inputs, then every evaluation of g(z)


def test_tau_stops_early() -> None:
    clf, codec = models()
    x = data()
    full = OptBased(clf, codec, steps=100).explain(x, 2)
    early = OptBased(clf, codec, steps=100, tau=0.5).explain(x, 2)
    assert (early.steps < 100).all()
    assert (early.probs_cf[:, 2] > 0.5).all()
    assert early.cost.gradient_steps < full.cost.gradient_steps


def test_a_classifier_without_gradients_is_refused() -> None:
    clf, codec = models()

    def black_box(images: Tensor) -> Tensor:
        return torch.from_numpy(clf(images).detach().numpy())

    with pytest.raises(ValueError, match="needs gradients"):
        OptBased(black_box, codec, steps=3).explain(data(2), 1)


@pytest.mark.parametrize(
    "kwargs", [{"lr": 0}, {"steps": -1}, {"l1": -1.0}, {"tau": 1.5}, {"codec": None}]
)
def test_bad_settings_are_refused(kwargs) -> None:
    clf, codec = models()
    with pytest.raises(ValueError):
        OptBased(clf, **{"codec": codec, **kwargs})
