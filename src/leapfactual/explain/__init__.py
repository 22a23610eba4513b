"""Explainers behind one interface, and the Explanation they return."""

from leapfactual.explain.base import Explainer, as_probs
from leapfactual.explain.explanation import Cost, Explanation
from leapfactual.explain.leapfactual import Blend, Inject, LeapFactual

__all__ = ["Blend", "Cost", "Explainer", "Explanation", "Inject", "LeapFactual", "as_probs"]
