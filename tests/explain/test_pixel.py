import pytest
import torch
from torch import Tensor, nn

from leapfactual.explain import PixelAttack


def classifier() -> nn.Module:
    """Two classes on 1x8x8 images: class 1 iff the left half is brighter than the right."""
    weight = torch.zeros(2, 64)
    half = torch.zeros(8, 8)
    half[:, :4], half[:, 4:] = 1.0, -1.0
    weight[1] = half.flatten()
    weight[0] = -half.flatten()
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
    with torch.no_grad():
        model[1].weight.copy_(weight)
        model[1].bias.zero_()
    return model


def images(n: int = 5) -> Tensor:
    x = torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 0.4
    x[..., 4:] += 0.3  # right half brighter: class 0 with a margin
    return x


def test_flips_with_small_pixel_changes() -> None:
    x = images()
    assert (classifier()(x).argmax(dim=1) == 0).all()
    exp = PixelAttack(classifier()).explain(x, 1)
    assert exp.valid.all() and (exp.probs_cf[:, 1] > 0.5).all()
    change = (exp.x_cf - x).abs().flatten(1).max(dim=1).values
    assert (change < 0.25).all()  # every pixel moves a little; none is redrawn
    assert exp.x_cf.min() >= 0 and exp.x_cf.max() <= 1
    assert (exp.steps > 0).all() and (exp.steps < 1000).all()
    assert exp.z is None and exp.cost.encoder == exp.cost.decoder == 0
    assert exp.cost.gradient_steps == int(exp.steps.sum())


def test_one_step_fewer_does_not_flip() -> None:
    x = images(1)
    exp = PixelAttack(classifier()).explain(x, 1)
    short = PixelAttack(classifier(), max_steps=int(exp.steps[0]) - 1).explain(x, 1)
    assert short.probs_cf[0, 1] <= 0.5


def test_pixels_stay_in_bounds_and_bounds_can_be_lifted() -> None:
    def brightness(x: Tensor) -> Tensor:  # class 1 iff the total brightness exceeds 66 > 64
        total = x.flatten(1).sum(dim=1, keepdim=True)
        return torch.cat([torch.zeros_like(total), total - 66.0], dim=1)

    x = torch.full((2, 1, 8, 8), 0.95)
    bounded = PixelAttack(brightness, lr=0.05, max_steps=30).explain(x, 1)
    assert bounded.x_cf.max() <= 1.0 and not bounded.valid.any()
    assert bounded.steps.tolist() == [30, 30]
    free = PixelAttack(brightness, lr=0.05, max_steps=30, bounds=None).explain(x, 1)
    assert free.valid.all() and free.x_cf.max() > 1.0


def test_l1_keeps_the_counterfactual_closer() -> None:
    x = images(3)
    plain = PixelAttack(classifier(), tau=None, max_steps=60).explain(x, 1)
    close = PixelAttack(classifier(), tau=None, max_steps=60, l1=20.0).explain(x, 1)
    assert (close.x_cf - x).abs().sum() < (plain.x_cf - x).abs().sum()
    assert plain.steps.tolist() == [60] * 3


@pytest.mark.parametrize(
    "kwargs", [{"lr": 0.0}, {"tau": 2.0}, {"max_steps": -3}, {"l1": -1.0}, {"bounds": (1, 0)}]
)
def test_bad_settings_are_refused(kwargs) -> None:
    with pytest.raises(ValueError):
        PixelAttack(classifier(), **kwargs)
