"""A 1-D U-Net vector field for latents of hundreds of dimensions (e.g. StyleGAN w, 512-d).

The latent is read as a one-channel sequence. Time enters through a sinusoidal embedding; the
condition's features are projected and *added* to the time embedding (docs/method.md §3.3),
and every residual block receives that sum.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from leapfactual.flow.conditions import ConditionKind, ConditionSpec
from leapfactual.flow.fields import VectorField


def sinusoidal(t: Tensor, dim: int) -> Tensor:
    """Sinusoidal embedding ``[B, dim]`` of times ``t`` in [0, 1]."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000) * torch.arange(half, device=t.device) / max(half - 1, 1))
    args = 1000 * t.reshape(-1, 1).float() * freqs
    return torch.cat([args.sin(), args.cos()], dim=1)


def _groups(channels: int) -> int:
    return math.gcd(channels, 8)


class ResBlock1d(nn.Module):
    """Two convolutions with GroupNorm and SiLU, the embedding added in between, residual."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(c_in), c_in)
        self.conv1 = nn.Conv1d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2 = nn.GroupNorm(_groups(c_out), c_out)
        self.conv2 = nn.Conv1d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, h: Tensor, emb: Tensor) -> Tensor:
        out = self.conv1(F.silu(self.norm1(h))) + self.emb(emb).unsqueeze(-1)
        out = self.conv2(F.silu(self.norm2(out)))
        return out + self.skip(h)


class UNet1DField(VectorField):
    """1-D U-Net on the latent read as a sequence.

    Args:
        latent_dim: size of the latent (padded internally to a multiple of ``2 ** depth``).
        cond_dim: number of classes the condition encodes.
        width: base channel width (the paper's face flow: 192).
        depth: number of halvings (the paper: 3).
        condition: the condition encoding (the paper's faces: ``"class"``).
        scale: ``(mean, std)`` of a regressor's outputs, for the ``value`` condition.
    """

    renamed_arguments: ClassVar[dict[str, str]] = {"dim": "width", "downsamples": "depth"}
    """Checkpoints written before the arguments took the settings' names still load."""

    def __init__(
        self,
        latent_dim: int,
        cond_dim: int,
        width: int = 64,
        depth: int = 3,
        condition: ConditionKind = "class",
        scale: tuple[float, float] | None = None,
    ) -> None:
        super().__init__()
        if latent_dim < 1 or width < 1 or depth < 0:
            raise ValueError("latent_dim and width must be positive and depth >= 0")
        self.latent_dim = latent_dim
        self.condition = ConditionSpec(condition, cond_dim, *(scale or (0.0, 1.0)))
        emb = 4 * width
        self.time_mlp = nn.Sequential(nn.Linear(width, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.cond_mlp = nn.Sequential(
            nn.Linear(self.condition.feature_dim, emb), nn.SiLU(), nn.Linear(emb, emb)
        )
        self.stem = nn.Conv1d(1, width, 3, padding=1)
        widths = [width * 2**i for i in range(depth + 1)]
        self.down = nn.ModuleList(ResBlock1d(widths[i], widths[i], emb) for i in range(depth))
        self.pool = nn.ModuleList(
            nn.Conv1d(widths[i], widths[i + 1], 3, stride=2, padding=1) for i in range(depth)
        )
        self.mid = ResBlock1d(widths[-1], widths[-1], emb)
        self.unpool = nn.ModuleList(
            nn.Conv1d(widths[i + 1], widths[i], 3, padding=1) for i in range(depth)
        )
        self.up = nn.ModuleList(ResBlock1d(2 * widths[i], widths[i], emb) for i in range(depth))
        self.head = nn.Sequential(
            nn.GroupNorm(_groups(width), width), nn.SiLU(), nn.Conv1d(width, 1, 3, padding=1)
        )
        self.multiple = 2**depth
        self.width = width

    def forward(self, t: Tensor, z: Tensor, cond: Tensor) -> Tensor:
        """Velocity at time ``t`` (a scalar or ``[B]``) for latents ``z`` under ``cond``."""
        batch = z.shape[0]
        t_vec = torch.as_tensor(t, dtype=z.dtype, device=z.device).reshape(-1).expand(batch)
        emb = self.time_mlp(sinusoidal(t_vec, self.width).to(z.dtype))
        emb = emb + self.cond_mlp(self.condition.features(cond, z.dtype))
        pad = (-z.shape[1]) % self.multiple
        h = self.stem(F.pad(z, (0, pad)).unsqueeze(1))
        skips = []
        for block, pool in zip(self.down, self.pool, strict=True):
            h = block(h, emb)
            skips.append(h)
            h = pool(h)
        h = self.mid(h, emb)
        for block, unpool, skip in zip(
            reversed(self.up), reversed(self.unpool), reversed(skips), strict=True
        ):
            h = unpool(F.interpolate(h, size=skip.shape[-1], mode="nearest"))
            h = block(torch.cat([h, skip], dim=1), emb)
        return self.head(h).squeeze(1)[:, : self.latent_dim]
