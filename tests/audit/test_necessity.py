import pytest
import torch
from torch import Tensor, nn
from torch.testing import assert_close

from leapfactual.audit import Necessity, necessity, necessity_map

GREY = 0.2


def patch_rule(row: int, col: int):
    """A black box: class 1 iff the mean of the 4x4 patch at (row, col) exceeds 0.5."""

    def classify(x: Tensor) -> Tensor:
        logit = 40 * (x[:, :, row : row + 4, col : col + 4].mean(dim=(1, 2, 3)) - 0.5)
        return torch.stack([torch.zeros_like(logit), logit], dim=1)

    return classify


TOP_LEFT = patch_rule(0, 0)


def hand_made_ces() -> tuple[Tensor, Tensor]:
    """Grey 16x16 inputs; each CE raises the top-left patch (needed) and the bottom-right
    patch (a nuisance). CE 0: the needed change is the larger, CE 1: the nuisance is."""
    x = torch.full((2, 1, 16, 16), GREY)
    x_cf = x.clone()
    x_cf[0, :, :4, :4], x_cf[0, :, 12:, 12:] = 0.9, 0.7
    x_cf[1, :, :4, :4], x_cf[1, :, 12:, 12:] = 0.7, 1.0
    return x, x_cf


def tensors(n: Necessity) -> dict[str, Tensor]:
    return {k: v for k, v in vars(n).items() if isinstance(v, Tensor)}


@pytest.mark.parametrize("mode", ["components", "grid"])
def test_known_truth_needed_patch_and_nuisance(mode: str) -> None:
    x, x_cf = hand_made_ces()
    n = necessity(TOP_LEFT, x, x_cf, target=1, regions=mode, steps=20)
    assert n.count.tolist() == [2, 2] and (n.source == 0).all()
    top_left = n.regions[:, 0, 0]
    bottom_right = n.regions[:, 15, 15]
    assert top_left.tolist() == [1, 2] and bottom_right.tolist() == [2, 1]  # by change size
    rows = torch.arange(2)
    assert (n.drop[rows, top_left - 1] > 0.99).all()
    assert n.drop[rows, bottom_right - 1].abs().max() < 1e-6
    assert (n.drop.nan_to_num(-1).argmax(dim=1) == top_left - 1).all()
    assert n.minimal_valid.all()
    assert n.minimal[rows, top_left - 1].all() and not n.minimal[rows, bottom_right - 1].any()
    assert n.minimal.sum().item() == 2  # padding columns stay False
    assert n.drop[:, 2:].isnan().all() and n.drop.shape == (2, 16)
    assert (n.p_cf > 0.99).all() and torch.equal(n.p_cf, n.curve[:, -1])
    assert (n.curve[:, 0] < 1e-4).all() and (n.curve_source[:, 0] > 0.99).all()
    # inserting the needed pixels first flips early; inserting the nuisance first does not
    assert n.cout[0] > 0.5 and n.cout[1] < n.cout[0] - 0.3
    assert n.cost.n == 2 and n.cost.classifier == 2 * 21 + 4 + 4 + 2 * 3  # 3 grey edits each
    heat = necessity_map(n)
    assert heat.shape == (2, 1, 16, 16)
    assert (heat[:, 0, :4, :4] > 0.99).all() and heat[:, 0, 4:, :].abs().max() < 1e-6


def test_a_rule_that_ignores_every_change() -> None:
    x, x_cf = hand_made_ces()
    n = necessity(patch_rule(0, 12), x, x_cf, target=1)  # reads the unchanged top-right
    assert n.drop[:, :2].abs().max() == 0
    assert not n.minimal_valid.any() and n.minimal[:, :2].all()  # nothing suffices
    assert torch.allclose(n.cout, torch.tensor(-1.0), atol=1e-4)
    x[:, :, :4, 12:] = x_cf[:, :, :4, 12:] = 0.9  # already class 1: the empty change suffices
    n = necessity(patch_rule(0, 12), x, x_cf, target=1)
    assert n.minimal_valid.all() and not n.minimal.any()
    assert n.cost.classifier == 2 * 21 + 4 + 2 * 3  # no greedy search was needed


def test_deterministic_and_batch_independent() -> None:
    x, x_cf = hand_made_ces()
    noise = torch.rand(x.shape, generator=torch.Generator().manual_seed(0)) * 0.05
    x_cf = (x_cf + noise).clamp(0, 1)
    runs = [necessity(TOP_LEFT, x, x_cf, 1, batch_size=b, steps=7) for b in (64, 1, 64)]
    for other in runs[1:]:
        for key, value in tensors(runs[0]).items():
            assert_close(tensors(other)[key], value, rtol=0, atol=0, equal_nan=True, msg=key)
        assert other.cost.classifier == runs[0].cost.classifier


class TinyNet(nn.Module):
    """An ``nn.Module`` that returns a dict with ``logits``, like Hugging Face models."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3, padding=1)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        return {"logits": self.conv(x).mean(dim=(2, 3))}


def test_module_outputs_probs_and_explicit_source() -> None:
    torch.manual_seed(0)
    net = TinyNet().double()
    x, x_cf = hand_made_ces()
    n = necessity(net, x, x_cf, torch.tensor([2, 1]), source=0, steps=4)
    assert n.curve.shape == (2, 5) and (n.source == 0).all()
    with torch.no_grad():
        probs = net(x_cf.double())["logits"].softmax(dim=1)
    assert torch.allclose(n.p_cf, probs[[0, 1], [2, 1]].float())
    soft = necessity(lambda im: TOP_LEFT(im).softmax(dim=1), x, x_cf, 1, outputs="probs")
    assert_close(soft.drop, necessity(TOP_LEFT, x, x_cf, 1).drop, equal_nan=True)


def test_save_and_load(tmp_path) -> None:
    x, x_cf = hand_made_ces()
    n = necessity(TOP_LEFT, x, x_cf, 1, steps=3)
    back = Necessity.load(n.save(tmp_path / "audit"))
    for key, value in tensors(n).items():
        assert_close(tensors(back)[key], value, rtol=0, atol=0, equal_nan=True, msg=key)
    assert back.cost == n.cost and back.config == n.config


def test_bad_inputs_are_named() -> None:
    x, x_cf = hand_made_ces()
    bad = x_cf.clone()
    bad[1, 0, 3, 3] = float("nan")
    with pytest.raises(ValueError, match=r"^x_cf contains NaN or Inf"):
        necessity(TOP_LEFT, x, bad, 1)
    with pytest.raises(ValueError, match=r"^x contains NaN or Inf"):
        necessity(TOP_LEFT, x.clone().fill_(float("inf")), x_cf, 1)
    with pytest.raises(ValueError, match="x_cf has shape"):
        necessity(TOP_LEFT, x, x_cf[:1], 1)
    with pytest.raises(ValueError, match=r"target classes must lie in \[0, 1\]"):
        necessity(TOP_LEFT, x, x_cf, 2)
    with pytest.raises(ValueError, match="steps must be a positive int"):
        necessity(TOP_LEFT, x, x_cf, 1, steps=0)
    with pytest.raises(ValueError, match="unknown classifier output kind"):
        necessity(TOP_LEFT, x, x_cf, 1, outputs="scores")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="returned str"):
        necessity(lambda im: "nope", x, x_cf, 1)
