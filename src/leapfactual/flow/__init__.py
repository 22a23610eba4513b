"""CE-CFM flows: condition encodings, vector fields, training, ODE solvers and LEAP."""

from typing import TYPE_CHECKING

from leapfactual._lazy import lazy_face

if TYPE_CHECKING:
    from leapfactual.flow.cfm import (
        Coupling,
        GaussianSource,
        Source,
        UniformSource,
        cfm_loss,
        ot_pair,
        train_flow,
    )
    from leapfactual.flow.conditions import ConditionKind, ConditionSpec
    from leapfactual.flow.fields import MLPField, VectorField, load_field, save_field
    from leapfactual.flow.leap import leap
    from leapfactual.flow.options import ADAPTIVE, FIXED_STEP_METHODS, KINDS, Solver
    from leapfactual.flow.solvers import FIXED_STEP, integrate
    from leapfactual.flow.unet import UNet1DField
    from leapfactual.flow.unet2d import UNet2DField

__all__ = [
    "ADAPTIVE",
    "FIXED_STEP",
    "FIXED_STEP_METHODS",
    "KINDS",
    "ConditionKind",
    "ConditionSpec",
    "Coupling",
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

lazy_face(__name__, light=("options",))
