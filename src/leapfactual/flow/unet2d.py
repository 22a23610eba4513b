"""A 2-D convolutional U-Net vector field for spatial latents ``[C, h, w]`` (a pretrained
autoencoder's, e.g. a diffusers ``AutoencoderKL``'s ``[4, H/8, W/8]``).

The flow works on flat latents ``[B, C*h*w]`` like every field (the codec adapters flatten
them); this field reads them back as ``[B, C, h, w]`` grids, so its convolutions see
neighbouring latent positions as neighbours. Time enters through a sinusoidal embedding; the
condition's features are projected and added to it, and every residual block receives that
sum (as :class:`~leapfactual.flow.UNet1DField`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from leapfactual.flow.conditions import ConditionKind, ConditionSpec
from leapfactual.flow.fields import VectorField
from leapfactual.flow.unet import sinusoidal


def _groups(channels: int) -> int:
    return math.gcd(channels, 8)


class ResBlock2d(nn.Module):
    """Two 3x3 convolutions with GroupNorm and SiLU, the embedding added in between, residual."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(c_in), c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2 = nn.GroupNorm(_groups(c_out), c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, h: Tensor, emb: Tensor) -> Tensor:
        out = self.conv1(F.silu(self.norm1(h))) + self.emb(emb)[:, :, None, None]
        out = self.conv2(F.silu(self.norm2(out)))
        return out + self.skip(h)


class UNet2DField(VectorField):
    """2-D U-Net over the latent grid.

    Args:
        latent_shape: one latent's ``(C, h, w)``; the field takes and returns flat
            ``[B, C*h*w]`` latents (``latent_dim = C*h*w``).
        cond_dim: number of classes the condition encodes.
        width: base channel width.
        depth: number of halvings (the grid is padded to a multiple of
            ``2 ** depth`` inside and cropped back).
        condition: the condition encoding, see :class:`~leapfactual.flow.ConditionSpec`.
        scale: ``(mean, std)`` of a regressor's outputs, for the ``value`` condition.
    """

    renamed_arguments: ClassVar[dict[str, str]] = {"dim": "width", "downsamples": "depth"}
    """Checkpoints written before the arguments took the settings' names still load."""

    def __init__(
        self,
        latent_shape: Sequence[int],
        cond_dim: int,
        width: int = 32,
        depth: int = 2,
        condition: ConditionKind = "softmax",
        scale: tuple[float, float] | None = None,
    ) -> None:
        super().__init__()
        shape = tuple(int(s) for s in latent_shape)
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(
                f"UNet2DField needs a spatial latent shape (C, h, w) of positive sizes, got "
                f"{tuple(latent_shape)}; for flat latents use MLPField or UNet1DField"
            )
        if width < 1 or depth < 0:
            raise ValueError("width must be positive and depth >= 0")
        self.latent_shape = shape
        self.latent_dim = math.prod(shape)
        self.condition = ConditionSpec(condition, cond_dim, *(scale or (0.0, 1.0)))
        emb = 4 * width
        self.time_mlp = nn.Sequential(nn.Linear(width, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.cond_mlp = nn.Sequential(
            nn.Linear(self.condition.feature_dim, emb), nn.SiLU(), nn.Linear(emb, emb)
        )
        self.stem = nn.Conv2d(shape[0], width, 3, padding=1)
        widths = [width * 2**i for i in range(depth + 1)]
        self.down = nn.ModuleList(ResBlock2d(widths[i], widths[i], emb) for i in range(depth))
        self.pool = nn.ModuleList(
            nn.Conv2d(widths[i], widths[i + 1], 3, stride=2, padding=1) for i in range(depth)
        )
        self.mid = ResBlock2d(widths[-1], widths[-1], emb)
        self.unpool = nn.ModuleList(
            nn.Conv2d(widths[i + 1], widths[i], 3, padding=1) for i in range(depth)
        )
        self.up = nn.ModuleList(ResBlock2d(2 * widths[i], widths[i], emb) for i in range(depth))
        self.head = nn.Sequential(
            nn.GroupNorm(_groups(width), width), nn.SiLU(), nn.Conv2d(width, shape[0], 3, padding=1)
        )
        self.multiple = 2**depth
        self.width = width

    def forward(self, t: Tensor, z: Tensor, cond: Tensor) -> Tensor:
        """Velocity at time ``t`` (a scalar or ``[B]``) for flat latents ``z`` under ``cond``."""
        batch = z.shape[0]
        channels, height, width = self.latent_shape
        t_vec = torch.as_tensor(t, dtype=z.dtype, device=z.device).reshape(-1).expand(batch)
        emb = self.time_mlp(sinusoidal(t_vec, self.width).to(z.dtype))
        emb = emb + self.cond_mlp(self.condition.features(cond, z.dtype))
        grid = z.reshape(batch, channels, height, width)
        pad_h, pad_w = (-height) % self.multiple, (-width) % self.multiple
        h = self.stem(F.pad(grid, (0, pad_w, 0, pad_h)))
        skips = []
        for block, pool in zip(self.down, self.pool, strict=True):
            h = block(h, emb)
            skips.append(h)
            h = pool(h)
        h = self.mid(h, emb)
        for block, unpool, skip in zip(
            reversed(self.up), reversed(self.unpool), reversed(skips), strict=True
        ):
            h = unpool(F.interpolate(h, size=skip.shape[-2:], mode="nearest"))
            h = block(torch.cat([h, skip], dim=1), emb)
        out = self.head(h)[:, :, :height, :width]
        return out.reshape(batch, self.latent_dim)
