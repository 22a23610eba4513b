"""The speed benchmark's bound replays exactly the passes an explanation counted."""

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import torch

from leapfactual.explain import Cost

SPEED = Path(__file__).parents[3] / "benchmarks" / "speed.py"


def _speed():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("speed", SPEED)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Counting:
    """A codec and a classifier that count the rows they are given."""

    def __init__(self) -> None:
        self.rows = {"encoder": 0, "decoder": 0, "classifier": 0}

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        self.rows["encoder"] += len(x)
        return x.flatten(1)[:, :3]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        self.rows["decoder"] += len(z)
        return z

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        self.rows["classifier"] += len(images)
        return images


def test_the_bound_makes_the_counted_passes_at_the_same_batch_size() -> None:
    speed = _speed()
    models = Counting()
    x = torch.zeros(10, 1, 2, 2)
    # 10 CEs: 1 encode, 11.5 decodes and 12.5 classifications each (a fractional share: some
    # samples stopped early)
    cost = Cost(n=10, encoder=10, decoder=115, classifier=125)
    done = SimpleNamespace(codec=models, classifier=models)
    assert speed.bound_seconds(done, x, cost, 4, "cpu") > 0
    assert models.rows == {"encoder": 10, "decoder": 115, "classifier": 125}
