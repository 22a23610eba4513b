"""Conditional vector fields v(t, z, c) and their safetensors checkpoints."""

from __future__ import annotations

import os
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

    def forward(self, t: Tensor, z: Tensor, cond: Tensor) -> Tensor:
        """Velocity at time ``t`` (a scalar or ``[B]``) for latents ``z`` under ``cond``."""
        t_col = torch.as_tensor(t, dtype=z.dtype, device=z.device).reshape(-1, 1)
        t_col = t_col.expand(z.shape[0], 1)
        feats = self.condition.features(cond, z.dtype)
        return self.net(torch.cat([z, feats, t_col], dim=1))


def save_field(field: VectorField, path: str | os.PathLike[str]) -> Path:
    """Save a field's weights, architecture and condition encoding."""
    return save_module(field, path)


def load_field(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> VectorField:
    """Rebuild a field saved by :func:`save_field`; never executes code from the file."""
    field = load_module(path, device, expected=VectorField)
    assert isinstance(field, VectorField)
    return field
