"""Metrics for counterfactual explanations: plain functions on tensors.

- classification: :func:`validity`, :func:`auroc`, :func:`oracle_validity`; a regressor's
  :func:`value_validity`.
- proximity: :func:`l1_distance`, :func:`l2_distance`, :func:`ssim`, :func:`psnr`, and
  their means in :func:`proximity`.
- realism: :func:`fid`, :func:`kid`, :func:`sfid` on features of a caller's network
  (:func:`frechet_distance`, :func:`kernel_distance`, :func:`split_frechet_distance` on
  feature matrices).
- shape: :func:`morphometric_change` (Morpho-MNIST), :func:`relative_change`.
- ground truth: :func:`ground_truth_scores` against known true counterfactuals.
- cost: :func:`cost_per_ce`.
- diversity: :func:`diversity` among the K CEs of each input.
- trust: :func:`robustness` (robust validity under a codec round trip, blur and noise),
  :func:`collapsed` (CEs of different inputs that are nearly one image).

Quality metrics take an optional boolean ``mask`` to score only some CEs (the valid ones,
``explanation.valid``, in the DiME/ACE tradition).
"""

from leapfactual.metrics.classification import auroc, oracle_validity, validity
from leapfactual.metrics.cost import cost_per_ce
from leapfactual.metrics.diversity import diversity
from leapfactual.metrics.generation import conditional_sample_accuracy
from leapfactual.metrics.ground_truth import KEPT, ground_truth_scores
from leapfactual.metrics.morphometric import morphometric_change, relative_change
from leapfactual.metrics.proximity import (
    gaussian_kernel,
    l1_distance,
    l2_distance,
    proximity,
    psnr,
    ssim,
)
from leapfactual.metrics.realism import (
    extract_features,
    fid,
    frechet_distance,
    kernel_distance,
    kid,
    sfid,
    split_frechet_distance,
)
from leapfactual.metrics.reconstruction import codec_quality
from leapfactual.metrics.regression import value_validity
from leapfactual.metrics.trust import (
    Robustness,
    add_noise,
    blur,
    collapsed,
    robustness,
)

__all__ = [
    "KEPT",
    "Robustness",
    "add_noise",
    "auroc",
    "blur",
    "codec_quality",
    "collapsed",
    "conditional_sample_accuracy",
    "cost_per_ce",
    "diversity",
    "extract_features",
    "fid",
    "frechet_distance",
    "gaussian_kernel",
    "ground_truth_scores",
    "kernel_distance",
    "kid",
    "l1_distance",
    "l2_distance",
    "morphometric_change",
    "oracle_validity",
    "proximity",
    "psnr",
    "relative_change",
    "robustness",
    "sfid",
    "split_frechet_distance",
    "ssim",
    "validity",
    "value_validity",
]
