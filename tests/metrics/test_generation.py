import pytest
import torch
from torch import Tensor, nn

from leapfactual.flow import ConditionSpec, VectorField
from leapfactual.metrics.generation import conditional_sample_accuracy

K = 4


class ConstantField(VectorField):
    """dz/dt = scale * onehot(class + shift): a flow that lands near the corner of class
    ``class + shift``; ``scale = 0`` ignores its condition."""

    def __init__(self, scale: float, shift: int = 0) -> None:
        super().__init__()
        self.latent_dim, self.condition = K, ConditionSpec("onehot", K)
        self.config = {"scale": scale, "shift": shift}
        self.scale, self.shift = scale, shift
        self.anchor = nn.Parameter(torch.zeros(1))  # a module with a parameter (its device)

    def forward(self, t: Tensor, z: Tensor, cond: Tensor) -> Tensor:
        return self.scale * cond.roll(self.shift, dims=1) + 0 * self.anchor


class Identity(nn.Module):
    """Codec whose images are the latents, ``[B, 1, 1, K]``."""

    def decode(self, z: Tensor) -> Tensor:
        return z.view(-1, 1, 1, K)


def classify(images: Tensor) -> Tensor:
    return images.flatten(1)


@pytest.mark.parametrize(("scale", "shift", "expected"), [(50.0, 0, 1.0), (50.0, 1, 0.0)])
def test_counts_samples_in_the_class_they_were_drawn_for(
    scale: float, shift: int, expected: float
) -> None:
    field = ConstantField(scale, shift)
    assert conditional_sample_accuracy(field, Identity(), classify, K) == expected


def test_a_flow_that_ignores_its_condition_scores_about_chance() -> None:
    score = conditional_sample_accuracy(ConstantField(0.0), Identity(), classify, K, per_class=500)
    assert 0.2 < score < 0.3


def test_seeded_batch_independent_and_modes_restored() -> None:
    field = ConstantField(0.0).train()
    a = conditional_sample_accuracy(field, Identity(), classify, K, seed=3, batch_size=7)
    b = conditional_sample_accuracy(field, Identity(), classify, K, seed=3, batch_size=256)
    c = conditional_sample_accuracy(field, Identity(), classify, K, seed=4)
    assert a == b and a != c
    assert field.training


def test_samples_start_from_the_given_source() -> None:
    """Noise all at class 0's corner: with a field that does not move, only the samples drawn
    for class 0 land in their class."""

    class Corner:
        def sample(self, n: int, dim: int, generator: torch.Generator, like: Tensor) -> Tensor:
            return torch.eye(dim)[0].repeat(n, 1)

    field = ConstantField(0.0)
    assert conditional_sample_accuracy(field, Identity(), classify, K, source=Corner()) == 0.25


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"num_classes": 0}, "num_classes"),
        ({"per_class": True}, "per_class"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_bad_arguments(kw: dict, match: str) -> None:
    options = {"num_classes": K, **kw}
    with pytest.raises(ValueError, match=match):
        conditional_sample_accuracy(ConstantField(1.0), Identity(), classify, **options)


def test_non_finite_decodings_are_refused() -> None:
    class Broken(Identity):
        def decode(self, z: Tensor) -> Tensor:
            return torch.full((len(z), 1, 1, K), float("nan"))

    with pytest.raises(ValueError, match="NaN or inf"):
        conditional_sample_accuracy(ConstantField(1.0), Broken(), classify, K)
