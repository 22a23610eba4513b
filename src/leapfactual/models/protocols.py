"""What an explainer needs from models: a classifier callable and a codec."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from torch import Tensor

Classifier = Callable[[Tensor], Tensor]
"""Any callable images ``[B, ...]`` -> outputs ``[B, K]`` (logits unless told otherwise):
an ``nn.Module``, a black-box function, a rule or a human annotator behind a function."""


@runtime_checkable
class Codec(Protocol):
    """A generative model's two maps: ``encode(x) -> z`` and ``decode(z) -> x``."""

    def encode(self, x: Tensor) -> Tensor: ...

    def decode(self, z: Tensor) -> Tensor: ...


class IdentityCodec:
    """The identity codec: the 'latent' is the input itself (e.g. 2-D toy points ``[B, D]``)."""

    def encode(self, x: Tensor) -> Tensor:
        return x

    def decode(self, z: Tensor) -> Tensor:
        return z
