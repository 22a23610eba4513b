"""Explainers behind one interface, and the Explanation they return.

Every explainer answers ``Method(classifier, ...).explain(x, target) -> Explanation``:
LeapFactual and the baselines of docs/method.md §7 (Opt-based, CGM-based, counterfactual
attacks in latent and pixel space, linear reflection).
"""

from leapfactual.explain.attack import LatentAttack
from leapfactual.explain.attributions import (
    AttributeProbes,
    Attributions,
    attribute_attributions,
    fit_attribute_probes,
)
from leapfactual.explain.base import Explainer, as_probs
from leapfactual.explain.cgm import CGMBased, ConditionalCodec
from leapfactual.explain.explanation import Cost, Explanation
from leapfactual.explain.leapfactual import Blend, Diversity, Inject, LeapFactual
from leapfactual.explain.opt import OptBased
from leapfactual.explain.pixel import PixelAttack
from leapfactual.explain.reflection import LatentReflection
from leapfactual.explain.stored import StoredExplanation, open_explanation

__all__ = [
    "AttributeProbes",
    "Attributions",
    "Blend",
    "CGMBased",
    "ConditionalCodec",
    "Cost",
    "Diversity",
    "Explainer",
    "Explanation",
    "Inject",
    "LatentAttack",
    "LatentReflection",
    "LeapFactual",
    "OptBased",
    "PixelAttack",
    "StoredExplanation",
    "as_probs",
    "attribute_attributions",
    "fit_attribute_probes",
    "open_explanation",
]
