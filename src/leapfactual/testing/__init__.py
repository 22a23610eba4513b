"""Tools for people who write explainers or change the method: the conformance check every
explainer passes (:func:`check_explainer`, on tiny :class:`StandIns`), and a flow with known
answers (the quadrant toy: :func:`quadrant_flow`), and stand-ins for what a user brings (an
image folder and their own exported classifier: :mod:`leapfactual.testing.user_files`)."""

from leapfactual.testing.conformance import (
    BAD_INPUTS,
    CHECKS,
    StandIns,
    check_explainer,
    hardest_targets,
    images,
    stand_ins,
)
from leapfactual.testing.ecosystems import HF_MEAN_STD, write_autoencoder, write_hf_classifier
from leapfactual.testing.quadrants import (
    QUADRANT_STARTS,
    quadrant_classifier,
    quadrant_explainer,
    quadrant_flow,
    quadrant_labels,
)
from leapfactual.testing.quick import NO_MIN_STEPS, QUICK, set_args
from leapfactual.testing.user_files import (
    UserCNN,
    export_classifier,
    extra_stages,
    train_user_classifier,
    write_image_folder,
)

__all__ = [
    "BAD_INPUTS",
    "CHECKS",
    "HF_MEAN_STD",
    "NO_MIN_STEPS",
    "QUADRANT_STARTS",
    "QUICK",
    "StandIns",
    "UserCNN",
    "check_explainer",
    "export_classifier",
    "extra_stages",
    "hardest_targets",
    "images",
    "quadrant_classifier",
    "quadrant_explainer",
    "quadrant_flow",
    "quadrant_labels",
    "set_args",
    "stand_ins",
    "train_user_classifier",
    "write_autoencoder",
    "write_hf_classifier",
    "write_image_folder",
]
