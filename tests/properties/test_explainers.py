"""Properties of every explainer on tiny stand-in models of random shapes (hypothesis).

Image shape, latent size, number of classes, batch size, internal batch size and seeds are
drawn; for each explainer the counterfactuals must be finite, in [0, 1], of the input's shape,
and a batch must give the same per-sample results as its samples one at a time (within float
tolerance: matrix products of different sizes may round differently).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

from leapfactual.explain import (
    Blend,
    CGMBased,
    Explainer,
    Inject,
    LatentAttack,
    LatentReflection,
    LeapFactual,
    OptBased,
    PixelAttack,
)
from leapfactual.flow import MLPField, Solver


@dataclass(frozen=True)
class Shape:
    channels: int
    side: int
    latent: int
    classes: int

    @property
    def pixels(self) -> int:
        return self.channels * self.side * self.side


class Codec(nn.Module):
    def __init__(self, s: Shape) -> None:
        super().__init__()
        self.s = s
        self.enc, self.dec = nn.Linear(s.pixels, s.latent), nn.Linear(s.latent, s.pixels)

    def encode(self, x: Tensor) -> Tensor:
        return self.enc(x.flatten(1))

    def decode(self, z: Tensor) -> Tensor:
        return torch.sigmoid(self.dec(z)).view(-1, self.s.channels, self.s.side, self.s.side)


class CondCodec(nn.Module):
    def __init__(self, s: Shape) -> None:
        super().__init__()
        self.s = s
        self.enc = nn.Linear(s.pixels + s.classes, s.latent)
        self.dec = nn.Linear(s.latent + s.classes, s.pixels)

    def encode(self, x: Tensor, cond: Tensor) -> Tensor:
        return self.enc(torch.cat([x.flatten(1), cond], dim=1))

    def decode(self, z: Tensor, cond: Tensor) -> Tensor:
        out = torch.sigmoid(self.dec(torch.cat([z, cond], dim=1)))
        return out.view(-1, self.s.channels, self.s.side, self.s.side)


class Classifier(nn.Module):
    input_range = (0.0, 1.0)

    def __init__(self, s: Shape) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(s.pixels, 8), nn.Tanh(), nn.Linear(8, s.classes)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x) * 3


@dataclass
class Models:
    shape: Shape
    classifier: Classifier
    codec: Codec
    cvae: CondCodec

    def images(self, n: int, seed: int) -> Tensor:
        s = self.shape
        return torch.rand(
            n, s.channels, s.side, s.side, generator=torch.Generator().manual_seed(seed)
        )


def models(shape: Shape, seed: int) -> Models:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Models(shape, Classifier(shape), Codec(shape), CondCodec(shape))


def leapfactual(m: Models) -> Explainer:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        field = MLPField(m.shape.latent, m.shape.classes, width=8, depth=1)
    return LeapFactual(
        m.classifier, m.codec, field, Blend(0.2, 2), Inject(0.0, 0.2, 1), Solver("midpoint", 2)
    )


def reflection(m: Models) -> Explainer:
    x = m.images(12, seed=99)
    labels = torch.arange(12) % m.shape.classes
    return LatentReflection(m.classifier, m.codec, max_iter=20).fit(x, labels=labels)


BUILDERS: dict[str, Callable[[Models], Explainer]] = {
    "leapfactual": leapfactual,
    "opt": lambda m: OptBased(m.classifier, m.codec, steps=4),
    "cgm": lambda m: CGMBased(m.classifier, m.cvae),
    "latent_attack": lambda m: LatentAttack(m.classifier, m.codec, max_steps=4),
    "pixel_attack": lambda m: PixelAttack(m.classifier, max_steps=4),
    "reflection": reflection,
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
@settings(max_examples=10, deadline=None, derandomize=True)
@given(
    shape=st.builds(
        Shape,
        channels=st.sampled_from([1, 3]),
        side=st.integers(2, 6),
        latent=st.integers(1, 4),
        classes=st.integers(2, 4),
    ),
    batch=st.integers(1, 6),
    batch_size=st.integers(1, 4),
    seed=st.integers(0, 1000),
)
def test_explainers_are_finite_in_range_and_per_sample(
    name: str, shape: Shape, batch: int, batch_size: int, seed: int
) -> None:
    m = models(shape, seed)
    x = m.images(batch, seed)
    target = torch.randint(
        0, shape.classes, (batch,), generator=torch.Generator().manual_seed(seed)
    )
    explainer = BUILDERS[name](m)
    explainer.batch_size = batch_size
    exp = explainer.explain(x, target)
    assert exp.x_cf.shape == x.shape
    for images in (exp.x_cf, exp.x_reliable):
        if images is not None:
            assert torch.isfinite(images).all()
            assert images.min() >= 0 and images.max() <= 1
    assert torch.isfinite(exp.probs_cf).all()
    assert torch.allclose(exp.probs_cf.sum(1), torch.ones(batch), atol=1e-5)
    assert torch.equal(exp.target, target)

    for i in range(batch):
        one = BUILDERS[name](m).explain(x[i : i + 1], target[i : i + 1])
        assert torch.allclose(one.x_cf, exp.x_cf[i : i + 1], atol=1e-5), (name, i)
        assert torch.allclose(one.probs_cf, exp.probs_cf[i : i + 1], atol=1e-5), (name, i)
        if exp.steps is not None:
            assert torch.equal(one.steps, exp.steps[i : i + 1]), (name, i)


def test_every_exported_explainer_has_a_property_test() -> None:
    import leapfactual.explain as explain

    exported = {
        obj.name
        for obj in vars(explain).values()
        if isinstance(obj, type) and issubclass(obj, Explainer) and obj is not Explainer
    }
    assert exported == set(BUILDERS)
