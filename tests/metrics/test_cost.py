import pytest

from leapfactual.explain.explanation import Cost
from leapfactual.metrics import cost_per_ce


def test_cost_per_ce() -> None:
    cost = Cost(n=4, encoder=4, decoder=64, classifier=68, field=960, seconds=2.0)
    per = cost_per_ce(cost)
    assert per["seconds"] == 0.5
    assert per["decoder"] == 16 and per["field"] == 240 and per["gradient_steps"] == 0
    assert per["network_evaluations"] == 1 + 16 + 17 + 240


def test_cost_needs_counterfactuals() -> None:
    with pytest.raises(ValueError, match="no counterfactuals"):
        cost_per_ce(Cost())
