import pytest
import torch

from leapfactual.explain import Explainer
from paper.bench import BenchContext, Benchmark, Method, classification_rows, cost_rows


class Shift(Explainer):
    """Moves a 1-D point by +1 per call: a toy explainer that counts how often it runs."""

    name = "shift"
    calls = 0

    def explain_batch(self, x, target, probs, cost):
        Shift.calls += 1
        x_cf = x + 1
        return {"x_cf": x_cf, "probs_cf": self.classify(x_cf, cost)}


def threshold(x: torch.Tensor) -> torch.Tensor:
    return torch.cat([-x, x], dim=1) * 10


def test_methods_sharing_an_explainer_run_it_once() -> None:
    x = torch.tensor([[-0.5], [-2.0], [0.3]])
    ctx = BenchContext(x=x, target=torch.tensor([1, 1, 1]))
    explainer = Shift(threshold)
    Shift.calls = 0
    table = Benchmark(
        ctx, [Method("a", explainer), Method("b", explainer)], [classification_rows, cost_rows]
    ).run()
    assert Shift.calls == 1
    assert table.get("accuracy to target", "a") == pytest.approx(2 / 3)
    assert table.get("accuracy to target", "b") == pytest.approx(2 / 3)
    assert table.get("network evaluations per CE", "a") == pytest.approx(2.0)


def test_column_gives_back_the_ces_without_explaining_again() -> None:
    x = torch.tensor([[-0.5], [0.3]])
    method = Method("a", Shift(threshold))
    bench = Benchmark(BenchContext(x=x, target=torch.tensor([1, 1])), [method], [cost_rows])
    Shift.calls = 0
    bench.run()
    column = bench.column(method)
    assert Shift.calls == 1 and torch.equal(column.x_cf, x + 1) and column.name == "a"


def test_reliable_column_needs_an_injection() -> None:
    ctx = BenchContext(x=torch.zeros(2, 1), target=torch.tensor([1, 1]))
    with pytest.raises(ValueError, match="no reliable CE"):
        Benchmark(ctx, [Method("r", Shift(threshold), "reliable")], [classification_rows]).run()
