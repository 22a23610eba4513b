"""Model protocols (what the explainers need) and reference networks with their trainers."""

from leapfactual.models.adapters import (
    DiffusersCodec,
    FlatLatents,
    adapt_classifier,
    as_tensor_outputs,
)
from leapfactual.models.classifier import CNNClassifier
from leapfactual.models.external import ExternalClassifier, load_classifier
from leapfactual.models.gan import GANCodec, load_generator_weights
from leapfactual.models.protocols import Classifier, Codec, IdentityCodec
from leapfactual.models.resvae import MIN_SIDE, ResVAE, resampled
from leapfactual.models.trainers import (
    accuracy,
    as_float_images,
    random_shift,
    train_classifier,
    train_cvae,
    train_regressor,
    train_vae,
)
from leapfactual.models.vae import ConditionalVAE, ConvVAE

__all__ = [
    "MIN_SIDE",
    "CNNClassifier",
    "Classifier",
    "Codec",
    "ConditionalVAE",
    "ConvVAE",
    "DiffusersCodec",
    "ExternalClassifier",
    "FlatLatents",
    "GANCodec",
    "IdentityCodec",
    "ResVAE",
    "accuracy",
    "adapt_classifier",
    "as_float_images",
    "as_tensor_outputs",
    "load_classifier",
    "load_generator_weights",
    "random_shift",
    "resampled",
    "train_classifier",
    "train_cvae",
    "train_regressor",
    "train_vae",
]
