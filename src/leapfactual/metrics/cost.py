"""What does a counterfactual cost? Wall time and network evaluations per CE."""

from __future__ import annotations

from leapfactual.explain import Cost

NETWORKS: tuple[str, ...] = ("encoder", "decoder", "classifier", "field")


def cost_per_ce(cost: Cost) -> dict[str, float]:
    """Every counter of ``cost`` divided by the number of CEs ``cost.n``: ``seconds``,
    evaluations of the ``encoder``, ``decoder``, ``classifier`` and vector ``field``,
    ``gradient_steps``, and their sum over networks, ``network_evaluations``."""
    if cost.n <= 0:
        raise ValueError(f"the cost counts no counterfactuals (n = {cost.n})")
    per = cost.per_ce()
    per["network_evaluations"] = sum(per[name] for name in NETWORKS)
    return per
