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
    cpu, wall = speed.bound_seconds(done, x, cost, 4, "cpu")
    assert wall > 0 and cpu >= 0
    assert models.rows == {"encoder": 10, "decoder": 115, "classifier": 125}


def test_a_pair_says_whether_its_distances_lie_within_one_standard_error() -> None:
    speed = _speed()

    def pair(l1_b: float) -> dict:  # type: ignore[type-arg]
        quality = {"validity": 1.0, "l1_se": 0.002, "field": 280}
        return {
            "a": "leapfactual",
            "b": "leapfactual-midpoint",
            "n": 10,
            "repeats": 3,
            "device": "cpu",
            "cpu": (0.6, 0.55, 0.7),
            "wall": (0.62, 0.5, 0.9),
            "quality": {
                "leapfactual": {**quality, "l1": 0.100},
                "leapfactual-midpoint": {**quality, "l1": l1_b},
            },
            "max_difference": 0.01,
        }

    near, far, closer = speed.pair_lines([pair(0.101), pair(0.110), pair(0.090)])
    assert "0.60 (0.55-0.70) the CPU time" in near and "(within one standard error)" in near
    assert "(the first farther by more than one standard error)" in far
    assert "(the first closer by more than one standard error)" in closer


def test_the_table_leads_with_the_method_then_validity_and_time() -> None:
    speed = _speed()
    cpu = {"per_ce": 0.016, "bound_per_ce": 0.0137, "ratio": (1.14, 1.12, 1.25)}
    cpu |= {"field_per_ce": 0.0013, "ratio_with_field": 1.05}
    result = {"n": 250, "cpu": cpu, "wall": {"ratio": (1.19, 1.03, 1.3)}, "validity": 0.952}
    result |= {"evaluations": dict.fromkeys(speed.COUNTERS, 1), "peak_mb": 492, "device": "cpu"}
    head, _, row = speed.speed_table({"cgm": result})
    assert head.startswith(
        "| method | validity | CPU ms / CE | time / bound, CPU (median, range) | n |"
    )
    assert row.startswith("| CGM-based, one CVAE pass | 0.952 | 16.000 | 1.14 (1.12-1.25) | 250 |")


def test_the_authors_verdict_needs_the_ratio_and_equal_ces() -> None:
    speed = _speed()

    def pair(ratio: float, l1_b: float, ours: str = "leapfactual") -> dict:  # type: ignore[type-arg]
        quality = {"validity": 1.0, "l1_se": 0.002, "field": 560}
        return {
            "a": ours,
            "b": "leapfactual-authors",
            "repeats": 3,
            "batch": 256,
            "cpu": (ratio, ratio - 0.1, ratio + 0.1),
            "quality": {
                ours: {**quality, "l1": 0.100},
                "leapfactual-authors": {**quality, "l1": l1_b},
            },
        }

    fewer = pair(2.0, 0.105, "leapfactual-fewer")  # ours closer (0.100): better is fine
    same = speed.authors_verdict(pair(1.6, 0.101), fewer)
    assert same[0].startswith("- At the paper's schedule: the authors' loop takes 1.60x")
    assert "target: >= 1.5x, CEs no farther within one SE: met)" in same[0]
    assert same[1].startswith("- With boost 2, stop once in the target class (fewer passes, CEs")
    assert "2.00x" in same[1] and ": met)" in same[1]
    assert "not how fast a leap is" in same[2]
    assert ": NOT met)" in speed.authors_verdict(pair(1.4, 0.101), fewer)[0]
    assert "farther by more than one SE" in speed.authors_verdict(pair(1.6, 0.090), fewer)[0]
    far = speed.authors_verdict(pair(1.1, 0.101), pair(2.0, 0.090, "leapfactual-fewer"))
    assert ": NOT met)" in far[0] and ": NOT met)" in far[1]  # ours 0.100 vs theirs 0.090


def test_the_authors_loop_makes_the_ces_of_ours_under_the_same_integrator(tiny_run) -> None:
    from leapfactual.flow import Solver

    speed = _speed()
    x = tiny_run.test.images[:6]
    target = (tiny_run.test.labels[:6] + 1) % tiny_run.test.num_classes
    theirs = speed.AuthorsLoop(tiny_run, batch_size=4).explain(x, target)
    ours = tiny_run.explainer("leapfactual", solver=Solver("dopri5", checkpoints=5)).explain(
        x, target
    )
    assert torch.allclose(theirs.x_cf, ours.x_cf, atol=1e-4)
    assert torch.equal(theirs.valid, ours.valid)
    assert theirs.cost.per_ce()["field"] >= ours.cost.per_ce()["field"] > 0
