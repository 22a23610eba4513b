"""``check_explainer``: one conformance check that every explainer passes (this library's
``check_estimator``).

An explainer is given as a factory ``build(stand_ins) -> Explainer`` over tiny stand-in
models (:class:`StandIns`: a linear encoder, a linear + sigmoid decoder, a linear classifier
on 1x8x8 images, a linear conditional VAE and an untrained flow field), because several
checks need fresh explainers on other models (float64 ones, a noisy classifier). The checks:
shapes and ranges, dtype and device, batches of one and many, independence from the batch,
determinism and seeding, cost counters, named errors for bad input, no side effects on the
user's models or inputs, and a save / load round trip. The first failing check raises an
``AssertionError`` naming it.

>>> from leapfactual.testing import check_explainer
>>> check_explainer(lambda m: MyMethod(m.classifier, m.codec))       # doctest: +SKIP
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from leapfactual.explain import Explainer, Explanation
from leapfactual.flow import MLPField

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
    """The conditional codec interface: ``encode(x, cond)``, ``decode(z, cond)``."""

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
class StandIns:
    """The tiny models an explainer under test is built on (all seeded, in ``dtype``)."""

    classifier: TinyClassifier
    codec: TinyCodec
    cvae: TinyCVAE
    field: MLPField
    dtype: torch.dtype

    def modules(self) -> list[nn.Module]:
        return [self.classifier, self.codec, self.cvae, self.field]


def stand_ins(dtype: torch.dtype = torch.float32, noise: float = 0.0) -> StandIns:
    """Fresh :class:`StandIns` (the same weights on every call)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        models = StandIns(
            TinyClassifier(noise),
            TinyCodec(),
            TinyCVAE(),
            MLPField(LATENT, CLASSES, width=16, depth=2),
            dtype,
        )
    for module in models.modules():
        module.to(dtype)
    return models


def images(n: int, dtype: torch.dtype = torch.float32, seed: int = 1) -> Tensor:
    """``n`` seeded random images of the stand-ins' shape ``[n, 1, 8, 8]``."""
    return torch.rand(n, *IMAGE, generator=torch.Generator().manual_seed(seed)).to(dtype)


def hardest_targets(models: StandIns, x: Tensor) -> Tensor:
    """The least likely class of each input: never met at the start, so methods must work."""
    with torch.no_grad():
        return models.classifier(x).argmin(dim=1)


Build = Callable[[StandIns], Explainer]


@contextmanager
def _raises(kind: type[BaseException], pattern: str) -> Iterator[None]:
    """The block must raise ``kind`` with a message matching ``pattern``."""
    try:
        yield
    except kind as err:
        if not re.search(pattern, str(err)):
            raise AssertionError(f"the error {err!r} does not say {pattern!r}") from err
    else:
        raise AssertionError(f"no {kind.__name__} matching {pattern!r} was raised")


# -- the checks ------------------------------------------------------------------------------
def check_fields_shapes_and_ranges(build: Build) -> None:
    """One CE per input, in the input's shape and in [0, 1]; probabilities, targets, sources,
    validity and steps of the right shapes; latents iff the method uses a codec; a JSON
    config that names the method."""
    m = stand_ins()
    x = images(5)
    target = hardest_targets(m, x)
    explainer = build(m)
    exp = explainer.explain(x, target)
    assert isinstance(exp, Explanation), "explain must return an Explanation"
    assert exp.method == explainer.name and len(exp) == 5, "one CE per input, named"
    assert exp.x_cf.shape == x.shape and torch.isfinite(exp.x_cf).all(), "CEs shaped as inputs"
    assert exp.x_cf.min() >= 0 and exp.x_cf.max() <= 1, "CEs outside the images' [0, 1]"
    assert exp.probs.shape == exp.probs_cf.shape == (5, CLASSES), "probabilities [B, K]"
    assert torch.allclose(exp.probs_cf.sum(dim=1), torch.ones(5), atol=1e-5), "not summing to 1"
    assert torch.equal(exp.target, target), "targets not kept"
    assert torch.equal(exp.source, exp.probs.argmax(dim=1)), "source is not the model's class"
    assert exp.valid.shape == (5,) and exp.valid.dtype == torch.bool, "valid is not [B] bool"
    assert exp.steps is not None and exp.steps.shape == (5,) and (exp.steps >= 0).all()
    assert (exp.z is None) == (exp.z_cf is None), "z and z_cf must come together"
    if exp.z is not None and exp.z_cf is not None:
        assert exp.z.shape == exp.z_cf.shape == (5, LATENT)
    config = exp.config
    assert config["method"] == explainer.name
    assert json.loads(json.dumps(config)) == config, "the config is not plain JSON"


def check_dtype_and_device(build: Build) -> None:
    """Results in the input's dtype (float32 and float64) and on its device."""
    for dtype in (torch.float32, torch.float64):
        m = stand_ins(dtype)
        x = images(3, dtype)
        exp = build(m).explain(x, hardest_targets(m, x))
        assert exp.x_cf.dtype == dtype, dtype
        for name, tensor in exp.tensors().items():
            assert tensor.device == x.device, name
        if exp.z_cf is not None:
            assert exp.z_cf.dtype == dtype


def check_batches_of_one_and_many(build: Build) -> None:
    """Each sample's result does not depend on the rest of its batch or the batch size."""
    m = stand_ins()
    x = images(7)
    target = hardest_targets(m, x)
    whole = build(m).explain(x, target)
    split = build(m)
    split.batch_size = 3
    parts = split.explain(x, target)
    one = build(m).explain(x[4:5], target[4:5])
    assert len(one) == 1 and one.x_cf.shape == (1, *IMAGE)
    assert torch.allclose(whole.x_cf, parts.x_cf, atol=1e-5), "depends on the batch size"
    assert torch.allclose(whole.x_cf[4:5], one.x_cf, atol=1e-5), "depends on the batch"
    assert torch.allclose(whole.probs_cf, parts.probs_cf, atol=1e-5)
    assert whole.steps is not None and parts.steps is not None
    assert torch.equal(whole.steps, parts.steps)


def check_targets_int_or_tensor(build: Build) -> None:
    """A target given as one int means the same as a tensor of it."""
    m = stand_ins()
    x = images(4)
    by_int = build(m).explain(x, 2)
    by_tensor = build(m).explain(x, torch.full((4,), 2))
    assert by_int.target.tolist() == [2] * 4
    assert torch.equal(by_int.x_cf, by_tensor.x_cf)


def check_deterministic(build: Build) -> None:
    """The same call twice gives the same CEs, whatever the caller's random stream did."""
    m = stand_ins()
    x = images(4)
    target = hardest_targets(m, x)
    a = build(m).explain(x, target)
    torch.rand(3)  # the caller's random stream moves on between the calls
    b = build(m).explain(x, target)
    assert torch.equal(a.x_cf, b.x_cf) and torch.equal(a.probs_cf, b.probs_cf), "not determined"


def check_seed_controls_randomness(build: Build) -> None:
    """With a stochastic classifier: a seeded explainer leaves the caller's random state
    alone, repeats itself, and another seed changes the result."""
    m = stand_ins(noise=0.5)
    x = images(4)
    target = torch.tensor([0, 1, 2, 0])
    explainer = build(m)
    if explainer.seed is None:  # no random choices of its own; draws from the caller's stream
        return
    state = torch.get_rng_state()
    a = explainer.explain(x, target)
    assert torch.equal(torch.get_rng_state(), state), "the caller's random state changed"
    b = build(m).explain(x, target)
    assert torch.equal(a.x_cf, b.x_cf) and torch.equal(a.probs_cf, b.probs_cf)
    other = build(m)
    other.seed = explainer.seed + 1
    c = other.explain(x, target)
    assert not torch.equal(a.probs_cf, c.probs_cf), "the seed has no effect"


def check_cost_counters(build: Build) -> None:
    """Work is counted per CE: time, classifier passes, codec passes when latents are used,
    and gradient steps equal to the steps recorded."""
    m = stand_ins()
    x = images(5)
    exp = build(m).explain(x, hardest_targets(m, x))
    cost = exp.cost
    assert cost.n == 5 and cost.seconds > 0
    assert cost.classifier >= 2 * 5, "the inputs and at least the CEs are classified"
    if exp.z is not None:
        assert cost.encoder >= 5 and cost.decoder >= 5
    if cost.gradient_steps:
        assert exp.steps is not None and cost.gradient_steps == int(exp.steps.sum())
    assert cost.field >= 0
    assert set(cost.per_ce()) >= {"encoder", "decoder", "classifier", "gradient_steps"}


BAD_INPUTS: list[tuple[Tensor, int | Tensor, str]] = [
    (torch.full((2, *IMAGE), float("nan")), 1, "NaN"),
    (torch.zeros(2, 1, 7, 7), 1, r"shape \(2, 1, 7, 7\)"),
    (torch.zeros(0, *IMAGE), 1, "non-empty"),
    (torch.zeros(2, *IMAGE, dtype=torch.long), 1, "float tensor"),
    (torch.zeros(2, *IMAGE), CLASSES, r"\[0, 2\]"),
    (torch.zeros(2, *IMAGE), -1, r"\[0, 2\]"),
    (torch.zeros(2, *IMAGE), torch.tensor([0, 1, 2]), "3 targets for 2 inputs"),
    (torch.zeros(2, *IMAGE), torch.tensor([0.0, 1.0]), "integer tensor"),
]
"""Inputs and targets every explainer refuses, and what the ``ValueError`` must say."""


def check_bad_input_is_named(build: Build) -> None:
    """Each of :data:`BAD_INPUTS` raises a ``ValueError`` that names the problem."""
    explainer = build(stand_ins())
    for x, target, message in BAD_INPUTS:
        with _raises(ValueError, message):
            explainer.explain(x, target)


def check_no_side_effects(build: Build) -> None:
    """The user's models and inputs come back as they were (weights, gradients,
    ``requires_grad``, train/eval mode), under no_grad and inference mode too."""
    m = stand_ins()
    m.codec.dec.requires_grad_(False)  # a partly frozen user model must stay as it was
    m.classifier.eval()
    flags = {id(p): p.requires_grad for mod in m.modules() for p in mod.parameters()}
    values = [p.detach().clone() for mod in m.modules() for p in mod.parameters()]
    x = images(4)
    x_before = x.clone()
    target = hardest_targets(m, x)
    explainer = build(m)
    plain = explainer.explain(x, target)
    with torch.no_grad():
        no_grad = explainer.explain(x, target)
    with torch.inference_mode():
        inference = explainer.explain(x, target)
    assert torch.equal(plain.x_cf, no_grad.x_cf) and torch.equal(plain.x_cf, inference.x_cf)
    assert torch.equal(x, x_before), "the input was modified"
    assert not plain.x_cf.requires_grad
    assert not m.classifier.training and m.codec.training, "a model's train/eval mode changed"
    params = [p for mod in m.modules() for p in mod.parameters()]
    for p, before in zip(params, values, strict=True):
        assert p.requires_grad == flags[id(p)], "requires_grad of a user parameter changed"
        assert p.grad is None, "gradients were accumulated on a user parameter"
        assert torch.equal(p.detach(), before), "a user parameter changed"


def check_save_load_round_trip(build: Build) -> None:
    """An explanation saved and loaded again is the same, tensor for tensor."""
    m = stand_ins()
    x = images(3)
    exp = build(m).explain(x, hardest_targets(m, x))
    with tempfile.TemporaryDirectory() as tmp:
        exp.save(tmp)
        back = Explanation.load(tmp)
    assert back.method == exp.method and back.config == exp.config and back.cost == exp.cost
    for name, tensor in exp.tensors().items():
        assert torch.equal(tensor, getattr(back, name)), name


CHECKS: tuple[Callable[[Build], None], ...] = (
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
)
"""Every check :func:`check_explainer` runs, in order."""


def check_explainer(build: Build, name: str | None = None) -> None:
    """Run every check of :data:`CHECKS` on the explainers ``build`` makes from
    :class:`StandIns`; the first failure raises an ``AssertionError`` naming the check
    (``name``: how to call the explainer in it, default its ``name``)."""
    label = name or getattr(build(stand_ins()), "name", "explainer")
    for check in CHECKS:
        try:
            check(build)
        except Exception as err:
            raise AssertionError(f"{label} fails {check.__name__}: {err!r}") from err
