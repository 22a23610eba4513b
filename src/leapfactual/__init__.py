"""leapfactual: visual counterfactual explanations with conditional flow matching.

>>> import leapfactual as lf
>>> field = lf.MLPField(latent_dim=32, cond_dim=10)
>>> # lf.train_flow(field, latents, field.condition.from_probs(probs))
>>> # explainer = lf.LeapFactual(classifier, codec, field)
>>> # exp = explainer.explain(x, target=3)
"""

from leapfactual._version import __version__
from leapfactual.explain import Blend, Cost, Explainer, Explanation, Inject, LeapFactual
from leapfactual.flow import (
    ConditionSpec,
    GaussianSource,
    MLPField,
    Solver,
    UniformSource,
    VectorField,
    cfm_loss,
    integrate,
    leap,
    load_field,
    save_field,
    train_flow,
)
from leapfactual.models import Codec, IdentityCodec

__all__ = [
    "Blend",
    "Codec",
    "ConditionSpec",
    "Cost",
    "Explainer",
    "Explanation",
    "GaussianSource",
    "IdentityCodec",
    "Inject",
    "LeapFactual",
    "MLPField",
    "Solver",
    "UniformSource",
    "VectorField",
    "__version__",
    "cfm_loss",
    "integrate",
    "leap",
    "load_field",
    "save_field",
    "train_flow",
]
