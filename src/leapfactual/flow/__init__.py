"""CE-CFM flows: condition encodings, vector fields, training, ODE solvers and LEAP."""

from leapfactual.flow.cfm import (
    GaussianSource,
    Source,
    UniformSource,
    cfm_loss,
    ot_pair,
    train_flow,
)
from leapfactual.flow.conditions import KINDS, ConditionSpec
from leapfactual.flow.fields import MLPField, VectorField, load_field, save_field
from leapfactual.flow.leap import leap
from leapfactual.flow.solvers import ADAPTIVE, FIXED_STEP, Solver, integrate
from leapfactual.flow.unet import UNet1DField
from leapfactual.flow.unet2d import UNet2DField

__all__ = [
    "ADAPTIVE",
    "FIXED_STEP",
    "KINDS",
    "ConditionSpec",
    "GaussianSource",
    "MLPField",
    "Solver",
    "Source",
    "UNet1DField",
    "UNet2DField",
    "UniformSource",
    "VectorField",
    "cfm_loss",
    "integrate",
    "leap",
    "load_field",
    "ot_pair",
    "save_field",
    "train_flow",
]
