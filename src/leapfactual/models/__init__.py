"""Model protocols (what the explainers need) and reference networks."""

from leapfactual.models.protocols import Classifier, Codec, IdentityCodec

__all__ = ["Classifier", "Codec", "IdentityCodec"]
