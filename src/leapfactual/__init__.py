"""leapfactual: visual counterfactual explanations with conditional flow matching.

>>> import leapfactual as lf
>>> field = lf.MLPField(latent_dim=32, cond_dim=10)
>>> # lf.train_flow(field, latents, field.condition.from_probs(probs))
>>> # explainer = lf.LeapFactual(classifier, codec, field)
>>> # exp = explainer.explain(x, target=3)
"""

from leapfactual._version import __version__
from leapfactual.data import Dataset, load_dataset, stratified_split, train_test_split
from leapfactual.explain import (
    Blend,
    CGMBased,
    Cost,
    Explainer,
    Explanation,
    Inject,
    LatentAttack,
    LatentReflection,
    LeapFactual,
    OptBased,
    PixelAttack,
)
from leapfactual.flow import (
    ConditionSpec,
    GaussianSource,
    MLPField,
    Solver,
    UNet1DField,
    UniformSource,
    VectorField,
    cfm_loss,
    integrate,
    leap,
    load_field,
    save_field,
    train_flow,
)
from leapfactual.models import (
    CNNClassifier,
    Codec,
    ConditionalVAE,
    ConvVAE,
    GANCodec,
    IdentityCodec,
    accuracy,
    train_classifier,
    train_cvae,
    train_vae,
)
from leapfactual.pipeline import FitConfig, Run, fit_run, load_run

__all__ = [
    "Blend",
    "CGMBased",
    "CNNClassifier",
    "Codec",
    "ConditionSpec",
    "ConditionalVAE",
    "ConvVAE",
    "Cost",
    "Dataset",
    "Explainer",
    "Explanation",
    "FitConfig",
    "GANCodec",
    "GaussianSource",
    "IdentityCodec",
    "Inject",
    "LatentAttack",
    "LatentReflection",
    "LeapFactual",
    "MLPField",
    "OptBased",
    "PixelAttack",
    "Run",
    "Solver",
    "UNet1DField",
    "UniformSource",
    "VectorField",
    "__version__",
    "accuracy",
    "cfm_loss",
    "fit_run",
    "integrate",
    "leap",
    "load_dataset",
    "load_field",
    "load_run",
    "save_field",
    "stratified_split",
    "train_classifier",
    "train_cvae",
    "train_flow",
    "train_test_split",
    "train_vae",
]
