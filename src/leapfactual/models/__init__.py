"""Model protocols (what the explainers need) and reference networks with their trainers."""

from typing import TYPE_CHECKING

from leapfactual._lazy import lazy_face

if TYPE_CHECKING:
    from leapfactual.models.adapters import (
        DiffusersCodec,
        FlatLatents,
        adapt_classifier,
        as_tensor_outputs,
        describe_outputs,
        select_output,
    )
    from leapfactual.models.classifier import CNNClassifier
    from leapfactual.models.codecs import (
        ExternalCodec,
        Standardised,
        latent_statistics,
        load_codec,
        scale_note,
    )
    from leapfactual.models.external import (
        EXPORT_LINE,
        ExternalClassifier,
        UserClassifier,
        load_classifier,
        locate_module,
    )
    from leapfactual.models.gan import GANCodec, load_generator_weights
    from leapfactual.models.layers import MIN_SIDE
    from leapfactual.models.preprocess import Preprocess
    from leapfactual.models.probe import (
        above_chance,
        check_fingerprint,
        probe_accuracy,
        probe_classifier,
        probe_images,
    )
    from leapfactual.models.protocols import Classifier, Codec, IdentityCodec
    from leapfactual.models.resvae import ResVAE, resampled
    from leapfactual.models.trainers import (
        accuracy,
        as_float_images,
        random_shift,
        train_classifier,
        train_cvae,
        train_regressor,
        train_vae,
    )
    from leapfactual.models.vae import VAE, ConditionalVAE, ConvVAE

__all__ = [
    "EXPORT_LINE",
    "MIN_SIDE",
    "VAE",
    "CNNClassifier",
    "Classifier",
    "Codec",
    "ConditionalVAE",
    "ConvVAE",
    "DiffusersCodec",
    "ExternalClassifier",
    "ExternalCodec",
    "FlatLatents",
    "GANCodec",
    "IdentityCodec",
    "Preprocess",
    "ResVAE",
    "Standardised",
    "UserClassifier",
    "above_chance",
    "accuracy",
    "adapt_classifier",
    "as_float_images",
    "as_tensor_outputs",
    "check_fingerprint",
    "describe_outputs",
    "latent_statistics",
    "load_classifier",
    "load_codec",
    "load_generator_weights",
    "locate_module",
    "probe_accuracy",
    "probe_classifier",
    "probe_images",
    "random_shift",
    "resampled",
    "scale_note",
    "select_output",
    "train_classifier",
    "train_cvae",
    "train_regressor",
    "train_vae",
]

lazy_face(__name__, light=("layers", "preprocess"))
