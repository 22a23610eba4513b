"""Conditional vector fields v(t, z, c) and their safetensors checkpoints."""

from __future__ import annotations

import os
from collections.abc import Callable
from itertools import islice
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from leapfactual.flow.conditions import ConditionKind, ConditionSpec
from leapfactual.io import load_module, register, save_module

ACTIVATIONS: dict[str, type[nn.Module]] = {"selu": nn.SELU, "silu": nn.SiLU, "relu": nn.ReLU}


class VectorField(nn.Module):
    """Base of all fields: a module ``forward(t, z, cond) -> velocity`` that knows its condition.

    Subclasses are registered with :func:`leapfactual.io.register` automatically, so each
    records its constructor arguments in ``self.config`` and a checkpoint can rebuild it.
    """

    latent_dim: int
    condition: ConditionSpec
    config: dict[str, Any]
    unrecorded_when_none: tuple[str, ...] = ("scale",)
    """``scale`` is left out of the config when None, as in checkpoints written before it."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        register(cls)

    def forward(self, t: Tensor, z: Tensor, cond: Tensor) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def conditioned(self, cond: Tensor) -> Callable[[Tensor, Tensor], Tensor]:
        """``v(t, z)`` under the fixed condition ``cond``, for one integration: ``cond`` is
        validated here, once. Every call runs the module, so its hooks see each evaluation."""
        self.condition.validate(cond)
        return lambda t, z: self(t, z, cond)

    def check_latents(self, z: Tensor) -> None:
        """Raise a specific error unless ``z`` is a ``[B, latent_dim]`` float batch."""
        if z.dim() != 2 or z.shape[1] != self.latent_dim or not z.is_floating_point():
            raise ValueError(
                f"this flow works on {self.latent_dim}-d latents ([B, {self.latent_dim}] float); "
                f"got shape {tuple(z.shape)} and dtype {z.dtype}. Check that the codec's latent "
                "size matches the flow's latent_dim."
            )


class MLPField(VectorField):
    """MLP on ``concat(z, c, t)`` as in the paper's MNIST flow.

    Args:
        latent_dim: size of the latent z.
        cond_dim: number of classes the condition encodes.
        width: hidden width (64 for MNIST, 256 for galaxies).
        depth: number of hidden layers (3 for MNIST, 5 for galaxies).
        activation: ``"selu"``, ``"silu"`` or ``"relu"``.
        condition: the condition encoding, see :class:`ConditionSpec`.
        scale: ``(mean, std)`` of a regressor's outputs, for the ``value`` condition.
    """

    def __init__(
        self,
        latent_dim: int,
        cond_dim: int,
        width: int = 64,
        depth: int = 3,
        activation: str = "selu",
        condition: ConditionKind = "softmax",
        scale: tuple[float, float] | None = None,
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {activation!r}; choose one of {list(ACTIVATIONS)}"
            )
        if latent_dim < 1 or width < 1 or depth < 1:
            raise ValueError("latent_dim, width and depth must be positive")
        self.latent_dim = latent_dim
        self.condition = ConditionSpec(condition, cond_dim, *(scale or (0.0, 1.0)))
        act = ACTIVATIONS[activation]
        layers: list[nn.Module] = [
            nn.Linear(latent_dim + self.condition.feature_dim + 1, width),
            act(),
        ]
        for _ in range(depth - 1):
            layers += [nn.Linear(width, width), act()]
        layers.append(nn.Linear(width, latent_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, t: Tensor, z: Tensor, cond: Tensor, term: Tensor | None = None) -> Tensor:
        """Velocity at time ``t`` (a scalar or ``[B]``) for latents ``z`` under ``cond``.

        The first layer on ``concat(z, c, t)`` is computed as ``W_z z + (W_c c + b) + w_t t``;
        ``term`` is the condition's part ``W_c c + b`` (:meth:`condition_term`), computed here
        when not given (:meth:`conditioned` computes it once per integration)."""
        first = self.net[0]
        assert isinstance(first, nn.Linear)
        if term is None:
            term = self.condition_term(cond, z.dtype)
        t_col = torch.as_tensor(t, dtype=z.dtype, device=z.device).reshape(-1, 1)
        hidden = torch.addmm(term, z, first.weight[:, : self.latent_dim].T)
        hidden = hidden + t_col * first.weight[:, -1]
        for layer in islice(self.net, 1, None):
            hidden = layer(hidden)
        return hidden

    def condition_term(self, cond: Tensor, dtype: torch.dtype) -> Tensor:
        """The condition's part of the first layer, ``W_c c + b`` ``[B, width]`` (validated)."""
        first = self.net[0]
        assert isinstance(first, nn.Linear)
        feats = self.condition.features(cond, dtype)
        start = self.latent_dim
        weight = first.weight[:, start : start + self.condition.feature_dim]
        return torch.addmm(first.bias, feats, weight.T)

    def conditioned(self, cond: Tensor) -> Callable[[Tensor, Tensor], Tensor]:
        """``v(t, z)`` under the fixed condition ``cond``, its part of the first layer computed
        here, once, not in every evaluation."""
        term = self.condition_term(cond, next(self.parameters()).dtype)
        return lambda t, z: self(t, z, cond, term)


def save_field(field: VectorField, path: str | os.PathLike[str], **extra: Any) -> Path:
    """Save a field's weights, architecture and condition encoding (``extra``: more JSON
    entries for the sidecar, as :func:`~leapfactual.io.save_module`)."""
    return save_module(field, path, **extra)


def load_field(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> VectorField:
    """Rebuild a field saved by :func:`save_field`; never executes code from the file."""
    field = load_module(path, device, expected=VectorField)
    assert isinstance(field, VectorField)
    return field
