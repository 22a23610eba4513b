"""Explainers' configs read from their constructors' signatures."""

import json
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from leapfactual.explain import (
    Blend,
    CGMBased,
    Diversity,
    Explainer,
    LatentAttack,
    LatentReflection,
    LeapFactual,
    OptBased,
    PixelAttack,
)
from leapfactual.explain.config import plain
from leapfactual.flow import MLPField, Solver
from leapfactual.models import ConditionalVAE, IdentityCodec


def classifier(x: Tensor) -> Tensor:
    return x.flatten(1)[:, :3]


CODEC = IdentityCodec()
FIELD = MLPField(4, 3, width=8, depth=1)
VALUE_FIELD = MLPField(4, 1, width=8, depth=1, condition="value", scale=(0.5, 2.0))

OLD = [  # (an explainer, the config its hand-written config() gave before the signature did)
    (
        lambda: LeapFactual(
            *(classifier, CODEC, FIELD, Blend(0.2, 3, tol=0.01), None, Solver("euler", 2)),
            *("images", Diversity("repel", 0.5, 0.5), "probs", 7, True, 3),
        ),
        '{"method": "leapfactual", "outputs": "probs", "batch_size": 7, "seed": 3, "blend": '
        '{"gamma": 0.2, "steps": 3, "tol": 0.01, "settle": null, "boost": 1.0}, "inject": null, '
        '"solver": {"method": "euler", "steps": 2, "atol": 0.0001, "rtol": 0.0001, '
        '"checkpoints": null}, "diversity": {"mechanism": "repel", "spread": 0.5, "repel": 0.5}, '
        '"condition": {"kind": "softmax", "num_classes": 3, "mean": 0.0, "std": 1.0}, "field": '
        '{"type": "MLPField", "latent_dim": 4, "cond_dim": 3, "width": 8, "depth": 1, '
        '"activation": "selu", "condition": "softmax"}}',
    ),
    (
        lambda: LeapFactual(
            classifier, CODEC, VALUE_FIELD, outputs="value", tolerance=0.25
        ).set_nonfinite("invalid"),
        '{"method": "leapfactual", "outputs": "value", "batch_size": 256, "seed": null, '
        '"tolerance": 0.25, "nonfinite": "invalid", "blend": {"gamma": 0.1, "steps": 15, "tol": '
        'null, "settle": null, "boost": 1.0}, "inject": {"gamma_lift": 0.0, "gamma_land": 0.1, '
        '"steps": 5}, "solver": {"method": "rk4", "steps": 4, "atol": 0.0001, "rtol": 0.0001, '
        '"checkpoints": null}, "diversity": {"mechanism": "noise", "spread": 1.0, "repel": 1.0}, '
        '"condition": {"kind": "value", "num_classes": 1, "mean": 0.5, "std": 2.0}, "field": '
        '{"type": "MLPField", "latent_dim": 4, "cond_dim": 1, "width": 8, "depth": 1, '
        '"activation": "selu", "condition": "value", "scale": [0.5, 2.0]}}',
    ),
    (
        lambda: OptBased(classifier, CODEC, 0.1, 10, 0.0, 0.0, 0.3, "value", 8, False, None, 0.5),
        '{"method": "opt", "outputs": "value", "batch_size": 8, "seed": null, "tolerance": 0.5, '
        '"lr": 0.1, "steps": 10, "l1": 0.0, "weight_decay": 0.0, "tau": 0.3}',
    ),
    (
        lambda: CGMBased(classifier, ConditionalVAE(width=4), "onehot", batch_size=4),
        '{"method": "cgm", "outputs": "logits", "batch_size": 4, "seed": 0, "condition": "onehot"}',
    ),
    (
        lambda: LatentAttack(classifier, CODEC, tolerance=0.1, outputs="value").set_nonfinite(
            "invalid"
        ),
        '{"method": "latent_attack", "outputs": "value", "batch_size": 256, "seed": 0, '
        '"tolerance": 0.1, "nonfinite": "invalid", "lr": 0.05, "tau": 0.5, "max_steps": 1000}',
    ),
    (
        lambda: PixelAttack(classifier, 0.1, None, 5, 0.5, (-1, 1), seed=None),
        '{"method": "pixel_attack", "outputs": "logits", "batch_size": 256, "seed": null, "lr": '
        '0.1, "tau": null, "max_steps": 5, "l1": 0.5, "bounds": [-1.0, 1.0]}',
    ),
    (
        lambda: LatentReflection(classifier, CODEC, 1.5, 0.0, 3),
        '{"method": "reflection", "outputs": "logits", "batch_size": 256, "seed": 0, "scale": '
        '1.5, "l2": 0.0, "max_iter": 3}',
    ),
]


@pytest.mark.parametrize(("make", "old"), OLD, ids=[str(i) for i in range(len(OLD))])
def test_config_is_the_old_hand_written_one(make, old: str) -> None:
    assert json.dumps(make().config()) == old  # same keys, order, values and number types


@dataclass(frozen=True)
class Schedule:
    rate: float = 0.5
    sizes: tuple[int, ...] = (1, 2)


class Mine(Explainer):
    """A user's explainer: a model argument, a dataclass, a tuple and a plain number."""

    name = "mine"

    def __init__(
        self,
        classifier: Any,
        helper: nn.Module,
        schedule: Schedule = Schedule(),
        shape: tuple[int, int] = (2, 3),
        step: float = 0.5,
    ) -> None:
        super().__init__(classifier, seed=1)
        self.helper, self.schedule, self.shape, self.step = helper, schedule, shape, step

    def explain_batch(self, x: Tensor, target: Tensor, probs: Tensor, cost: Any) -> Any:
        return {"x_cf": x, "probs_cf": self.classify(x, cost)}


def test_a_users_explainer_records_its_plain_arguments_and_not_its_models() -> None:
    config = Mine(classifier, nn.Linear(2, 2)).config()
    assert config == {
        "method": "mine",
        "outputs": "logits",
        "batch_size": 256,
        "seed": 1,
        "schedule": {"rate": 0.5, "sizes": [1, 2]},
        "shape": [2, 3],
        "step": 0.5,
    }
    assert json.loads(json.dumps(config)) == config


class Forgetful(Mine):
    def __init__(self, classifier: Any, alpha: float = 1.0) -> None:
        super().__init__(classifier, nn.Identity())


def test_an_argument_without_its_attribute_is_refused_before_any_work(monkeypatch) -> None:
    explainer = Forgetful(classifier)
    message = r"Forgetful keeps no attribute 'alpha' for its constructor argument alpha: .*"
    with pytest.raises(ValueError, match=message + r"set self\.alpha in Forgetful\.__init__"):
        explainer.config()
    calls = []
    monkeypatch.setattr(explainer, "explain_batch", lambda *args: calls.append(args))
    with pytest.raises(ValueError, match=message):
        explainer.explain(torch.rand(2, 4), 1)
    assert calls == []


def test_plain_tells_data_from_objects() -> None:
    assert plain((1, 2.5, None, "a", {"k": [True]})) == [1, 2.5, None, "a", {"k": [True]}]
    marker = plain(nn.Linear(1, 1))
    assert plain([1, nn.Linear(1, 1)]) is marker and plain({"k": torch.zeros(1)}) is marker
