"""Morpho-MNIST: measurements of digit shape and perturbations with known effect.

Measurements (Castro et al. 2019): area, length, thickness, slant, width, height of each
digit, in pixels of the original image (slant in radians, positive = leaning right).
Perturbations: thinning, thickening, swelling, fracture, and the intervention
``set_thickness`` that gives ground-truth counterfactuals.
"""

from leapfactual.morpho.measure import MEASUREMENTS, measure
from leapfactual.morpho.perturb import fracture, set_thickness, swell, thicken, thin

__all__ = [
    "MEASUREMENTS",
    "fracture",
    "measure",
    "set_thickness",
    "swell",
    "thicken",
    "thin",
]
