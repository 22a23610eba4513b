"""Adapters for the models users bring: classifiers that return an output object instead
of a Tensor (Hugging Face ``ImageClassifierOutput``) and codecs with spatial latents
(a diffusers ``AutoencoderKL``), so that every explainer sees ``Tensor`` in, ``Tensor`` out.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

KNOWN_FIELDS = ("logits", "sample", "latents", "latent_dist", "images", "last_hidden_state")
"""Attribute names of common model output objects, named in the error for a non-Tensor."""

FIXES = {
    "classifier": "return a Tensor [B, K] of logits or probabilities, or wrap it",
    "codec.encode": (
        "return a latent Tensor (for a diffusers autoencoder use "
        "leapfactual.models.adapters.DiffusersCodec(vae)), or wrap it"
    ),
    "codec.decode": (
        "return an image Tensor [B, C, H, W] (for a diffusers autoencoder use "
        "leapfactual.models.adapters.DiffusersCodec(vae)), or wrap it"
    ),
}


def _field(out: object, name: str) -> object:
    """``out.name`` or ``out[name]`` (dict-like outputs), None when it has neither."""
    value = getattr(out, name, None)
    if value is None and isinstance(out, Mapping):
        value = out.get(name)
    return value


def as_tensor_outputs(out: object, where: str = "classifier") -> Tensor:
    """A model's output as a Tensor: a Tensor passes through, an output object (or dict)
    with a Tensor ``logits`` gives that; anything else raises a one-line ``ValueError``
    naming the type, ``where`` it came from and how to wrap the model."""
    if isinstance(out, Tensor):
        return out
    logits = _field(out, "logits")
    if isinstance(logits, Tensor):
        return logits
    kind = type(out).__name__
    fix = FIXES.get(where, "return a Tensor, or wrap it")
    fields = [name for name in KNOWN_FIELDS if _field(out, name) is not None]
    if fields:
        access = f".{fields[0]}"
        kind += f" (with {', '.join('.' + name for name in fields)})"
    elif isinstance(out, (tuple, list)) and len(out) == 1:
        access = "[0]"
        kind += " of 1 items"
    elif isinstance(out, (tuple, list, Mapping)):
        if where.startswith("classifier"):
            extra = ", or for a classifier given by a spec --set classifier.output=INDEX (or NAME)"
        else:
            extra = f"; {FIXES[where]}" if where in FIXES else ""
        raise ValueError(
            f"{where} returned {len(out)} outputs, not one Tensor: {describe_outputs(out)}; "
            f"choose the one you mean: lambda x: model(x)[INDEX] (or ['NAME']){extra}"
        )
    else:
        access = ".<the Tensor attribute>"
    raise ValueError(f"{where} returned {kind}, not a Tensor; {fix}: lambda x: model(x){access}")


def describe_outputs(out: object) -> str:
    """Every output of a model that returned several, with its shape: ``[0] (2, 4), [1]
    (2, 10)`` for a sequence, ``'label' (2,), 'probabilities' (2, 10)`` for a mapping."""
    items: Iterable[tuple[object, object]] = (
        out.items()
        if isinstance(out, Mapping)
        else enumerate(out)
        if isinstance(out, Sequence)
        else ()
    )
    return ", ".join(
        f"{name!r} {_shape(value)}" if isinstance(name, str) else f"[{name}] {_shape(value)}"
        for name, value in items
    )


def _shape(value: object) -> str:
    shape = getattr(value, "shape", None)
    if shape is not None:
        return str(tuple(int(s) for s in shape))
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], Mapping):
        return f"(a sequence of {len(value)} maps)"
    return f"({type(value).__name__})"


def select_output(out: object, choice: str, where: str = "classifier") -> object:
    """The output ``choice`` names (``classifier.output``): an index into a tuple or list,
    a name (or an index in order) in a mapping (a dict, a Hugging Face output, an ONNX
    graph's named outputs); ``""`` takes the one output there is (or ``.logits``). A choice
    that does not fit, or several outputs and none chosen, raise one line listing every
    output with its shape."""
    if not choice:
        return out if isinstance(out, Tensor) else as_tensor_outputs(out, where)
    listing = (
        describe_outputs(out)
        if isinstance(out, (tuple, list, Mapping))
        else f"one {type(out).__name__}"
    )
    if isinstance(out, Mapping) and choice in out:
        return out[choice]
    if choice.isdigit() and isinstance(out, (tuple, list, Mapping)):
        values = list(out.values()) if isinstance(out, Mapping) else list(out)
        if int(choice) < len(values):
            return values[int(choice)]
    if not isinstance(out, (tuple, list, Mapping)):
        raise ValueError(
            f"classifier.output = {choice!r}, but {where} returns one output ({listing}); "
            "drop the setting"
        )
    raise ValueError(
        f"classifier.output = {choice!r} names none of the outputs of {where}: {listing}; "
        "give an index or a name from this list"
    )


class TensorOutputs(nn.Module):
    """An ``nn.Module`` classifier whose outputs pass through :func:`as_tensor_outputs`;
    ``.to()``, ``.parameters()``, ``.eval()`` and gradients reach the wrapped ``model``."""

    def __init__(self, model: nn.Module, where: str = "classifier") -> None:
        super().__init__()
        self.model = model
        self.where = where
        self.training = model.training
        bounds = getattr(model, "input_range", None)
        if bounds is not None:
            self.input_range = bounds

    def train(self, mode: bool = True) -> TensorOutputs:
        """Set the mode here and on ``model``; a ``torch.export`` module keeps the mode it
        was exported in (it refuses ``train`` / ``eval``)."""
        self.training = mode
        with contextlib.suppress(NotImplementedError):
            self.model.train(mode)
        return self

    def forward(self, x: Tensor) -> Tensor:
        return as_tensor_outputs(self.model(x), self.where)


def adapt_classifier(model: Callable[[Tensor], Any]) -> Callable[[Tensor], Tensor]:
    """``model`` as a callable returning Tensors: an ``nn.Module`` is wrapped in
    :class:`TensorOutputs`, any other callable in a function; adapting twice is harmless."""
    if isinstance(model, TensorOutputs):
        return model
    if isinstance(model, nn.Module):
        return TensorOutputs(model)
    if not callable(model):
        raise ValueError(
            f"the classifier must be callable (images [B, C, H, W] -> outputs [B, K]), "
            f"got {type(model).__name__}"
        )

    def classifier(x: Tensor) -> Tensor:
        return as_tensor_outputs(model(x))

    return functools.update_wrapper(classifier, model, assigned=(), updated=())  # __wrapped__


class FlatLatents(nn.Module):
    """Flat latents ``[B, D]`` for a codec with spatial latents ``[B, *latent_shape]``:
    ``encode`` flattens, ``decode`` restores the shape before decoding.

    Args:
        codec: any object with ``encode(x)`` / ``decode(z)`` returning Tensors.
        latent_shape: one sample's latent shape, e.g. ``(4, h, w)``; None records it on the
            first ``encode`` (``decode`` before that raises). Later encodes must match it.
    """

    def __init__(self, codec: Any, latent_shape: Sequence[int] | None = None) -> None:
        super().__init__()
        if not (hasattr(codec, "encode") and hasattr(codec, "decode")):
            raise ValueError("codec must have encode(x) -> z and decode(z) -> x methods")
        self.codec = codec
        shape = None if latent_shape is None else tuple(int(s) for s in latent_shape)
        if shape is not None and (not shape or min(shape) < 1):
            raise ValueError(
                f"latent_shape must be positive sizes such as (4, 8, 8), got {latent_shape}"
            )
        self.latent_shape = shape

    @property
    def latent_dim(self) -> int | None:
        """``D``, the size of one flat latent (None until the shape is known)."""
        return None if self.latent_shape is None else math.prod(self.latent_shape)

    def encode(self, x: Tensor) -> Tensor:
        z = as_tensor_outputs(self.encode_spatial(x), "codec.encode")
        shape = tuple(z.shape[1:])
        if self.latent_shape is None:
            self.latent_shape = shape
        elif shape != self.latent_shape:
            raise ValueError(
                f"codec.encode gave latents of shape {shape}, but this codec's latents are "
                f"{self.latent_shape}; use one image size per codec (or a new FlatLatents)"
            )
        return z.reshape(z.shape[0], -1)

    def decode(self, z: Tensor) -> Tensor:
        if self.latent_shape is None:
            raise ValueError(
                "decode was called before the latent shape is known; encode images first or "
                "give latent_shape=(C, h, w)"
            )
        dim = math.prod(self.latent_shape)
        if z.dim() != 2 or z.shape[1] != dim:
            raise ValueError(
                f"decode got latents of shape {tuple(z.shape)}, but this codec's flat latents "
                f"are [B, {dim}] (= {self.latent_shape}); decode latents from this codec's encode"
            )
        spatial = z.reshape(z.shape[0], *self.latent_shape)
        return as_tensor_outputs(self.decode_spatial(spatial), "codec.decode")

    def encode_spatial(self, x: Tensor) -> object:
        """The wrapped codec's own latents (overridden by adapters such as DiffusersCodec)."""
        return self.codec.encode(x)

    def decode_spatial(self, z: Tensor) -> object:
        """The wrapped codec's decode of spatial latents."""
        return self.codec.decode(z)


class DiffusersCodec(FlatLatents):
    """A diffusers-style autoencoder (``AutoencoderKL`` and kin) as a LeapFactual codec.

    Images in ``[0, 1]`` are mapped to the VAE's ``[-1, 1]``; ``encode`` returns the
    posterior mean (or a sample, ``sample=True``) of ``vae.encode(x).latent_dist`` (or
    ``.latents`` for VAEs without a distribution), shifted and scaled as diffusers pipelines
    do, ``(z - shift_factor) * scaling_factor`` from ``vae.config`` (1 and 0 when absent),
    so latents have about unit variance, which suits the flow's Gaussian source; then flat
    ``[B, C*h*w]``. ``decode`` undoes all of it and returns ``vae.decode(z).sample`` mapped
    back to ``[0, 1]`` and clamped. Inputs are cast to the VAE's dtype and results back.

    Args:
        vae: the autoencoder (an ``nn.Module``; ``.to()`` on this codec moves it).
        sample: encode to a posterior sample instead of the mean.
        latent_shape: one image's latent ``(C, h, w)``, e.g. ``(4, H // 8, W // 8)`` for
            Stable Diffusion's VAE; None records it on the first ``encode``.
        scaling_factor, shift_factor: used instead of the config's. A config's factor suits
            the VAE it was trained with (0.18215 for Stable Diffusion's); for a VAE of your
            own, measure the latents' spread on your images (``fit --codec`` does:
            :func:`leapfactual.models.codecs.latent_statistics`).
    """

    input_range = (0.0, 1.0)

    def __init__(
        self,
        vae: Any,
        sample: bool = False,
        latent_shape: Sequence[int] | None = None,
        scaling_factor: float | None = None,
        shift_factor: float | None = None,
    ) -> None:
        super().__init__(vae, latent_shape)
        config = getattr(vae, "config", None)
        scale = (
            scaling_factor
            if scaling_factor is not None
            else getattr(config, "scaling_factor", None)
        )
        shift = shift_factor if shift_factor is not None else getattr(config, "shift_factor", None)
        self.scaling_factor = 1.0 if scale is None else float(scale)
        self.shift_factor = 0.0 if shift is None else float(shift)
        if self.scaling_factor == 0:
            raise ValueError("vae.config.scaling_factor is 0; the latents cannot be rescaled")
        self.sample = sample

    def _vae_dtype(self, fallback: torch.dtype) -> torch.dtype:
        if isinstance(self.codec, nn.Module):
            for param in self.codec.parameters():
                if param.is_floating_point():
                    return param.dtype
        return fallback

    def encode_spatial(self, x: Tensor) -> Tensor:
        out = self.codec.encode((x * 2 - 1).to(self._vae_dtype(x.dtype)))
        dist: Any = _field(out, "latent_dist")
        z = (dist.sample() if self.sample else dist.mean) if dist is not None else None
        if not isinstance(z, Tensor):
            latents = _field(out, "latents")
            z = latents if isinstance(latents, Tensor) else as_tensor_outputs(out, "codec.encode")
        return ((z - self.shift_factor) * self.scaling_factor).to(x.dtype)

    def decode_spatial(self, z: Tensor) -> Tensor:
        latents = z / self.scaling_factor + self.shift_factor
        out = self.codec.decode(latents.to(self._vae_dtype(z.dtype)))
        images = _field(out, "sample")
        if not isinstance(images, Tensor):
            images = as_tensor_outputs(out, "codec.decode")
        return ((images.to(z.dtype) + 1) / 2).clamp(0, 1)
