"""A residual convolutional VAE for colour images at 32-128 pixels (and grey ones).

Same interface as :class:`~leapfactual.models.ConvVAE`, so ``train_vae`` trains it unchanged.
Geometry: the shared stride-2 stages of :func:`~leapfactual.models.layers.stage_sides` (any
side >= 8, odd ones too, down to 4), each stage a 4x4 stride-2 convolution followed by one
pre-activation residual block (GroupNorm, SiLU, 3x3 convolution, twice; it starts as the
identity); the decoder mirrors it with 4x4 transposed convolutions. The output head is linear
(``decode`` clamps to [0, 1]); the reconstruction term is contrast-normalised
(``reference_var``); ``work_size`` makes it work at a smaller side inside (area resampling
in, bicubic out: :func:`resampled`). Why each of these, with the measurements behind them
and the settings ``fit`` trains it with: docs/design-notes.md, "The residual VAE".
"""

from __future__ import annotations

import itertools
import math
import numbers

from torch import Tensor, nn
from torch.nn import functional as F

from leapfactual.io import register
from leapfactual.models.layers import MIN_SIDE, check_matrix, stage_channels, stage_sides
from leapfactual.models.vae import VAE

GROUPS = 8
MNIST_PIXEL_VAR = 0.0952
"""Pixel variance of mnist5k in [0, 1]: the contrast the project's beta was chosen at."""
MIN_VAR = 1e-4
"""Floor of a batch's pixel variance in the loss weight (a constant batch has none)."""


def resampled(images: Tensor, side: int) -> Tensor:
    """``images`` ``[B, C, H, W]`` at ``side`` x ``side``: averaged down (area) when smaller,
    bicubic up when larger (values may leave [0, 1] slightly), unchanged when equal."""
    if images.shape[-1] == side and images.shape[-2] == side:
        return images
    if side < images.shape[-1]:
        return F.interpolate(images, size=side, mode="area")
    return F.interpolate(images, size=side, mode="bicubic", align_corners=False)


def _norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with up to 8 groups (the largest divisor of ``channels`` that is <= 8)."""
    return nn.GroupNorm(math.gcd(channels, GROUPS), channels)


class ResBlock(nn.Module):
    """``x + conv(silu(norm(conv(silu(norm(x))))))``; the second convolution starts at zero,
    so every block starts as the identity."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _norm(channels),
            nn.SiLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            _norm(channels),
            nn.SiLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
        )
        last = self.body[-1]
        assert isinstance(last, nn.Conv2d) and last.bias is not None
        nn.init.zeros_(last.weight)  # each block starts as the identity
        nn.init.zeros_(last.bias)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResEncoder(nn.Module):
    """3x3 stem, then per stage a 4x4 stride-2 convolution and a residual block; a linear map
    of the flattened smallest feature map to ``(mu, logvar)``. Images larger than
    ``work_size`` are first averaged down to it (area resampling)."""

    def __init__(
        self, in_channels: int, image_size: int, latent_dim: int, width: int, work_size: int
    ) -> None:
        super().__init__()
        self.work_size = work_size
        sides = stage_sides(work_size)
        chans = stage_channels(width, len(sides) - 1)
        layers: list[nn.Module] = [nn.Conv2d(in_channels, chans[0], 3, padding=1)]
        for c_in, c_out in itertools.pairwise([chans[0], *chans]):
            layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), ResBlock(c_out)]
        self.convs = nn.Sequential(*layers)
        self.head = nn.Linear(chans[-1] * sides[-1] ** 2, 2 * latent_dim)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu, logvar = self.head(self.convs(resampled(x, self.work_size)).flatten(1)).chunk(2, 1)
        return mu, logvar


class ResDecoder(nn.Module):
    """Linear map to the smallest feature map, then per stage a residual block and a 4x4
    transposed convolution back up (output padding absorbs odd sides), a 3x3 convolution to
    the image channels; the output is linear (see the module docstring). Below
    ``image_size`` it works at ``work_size`` and is resampled up (bicubic) at the end."""

    def __init__(
        self, in_channels: int, image_size: int, latent_dim: int, width: int, work_size: int
    ) -> None:
        super().__init__()
        self.image_size = image_size
        sides = stage_sides(work_size)
        chans = stage_channels(width, len(sides) - 1)
        self.shape = (chans[-1], sides[-1], sides[-1])
        self.head = nn.Linear(latent_dim, chans[-1] * sides[-1] ** 2)
        layers: list[nn.Module] = []
        outs = [chans[0], *chans]
        for i in range(len(sides) - 1, 0, -1):
            pad = sides[i - 1] - 2 * sides[i]
            layers += [
                ResBlock(outs[i]),
                nn.ConvTranspose2d(outs[i], outs[i - 1], 4, 2, 1, output_padding=pad),
            ]
        layers += [_norm(chans[0]), nn.SiLU(), nn.Conv2d(chans[0], in_channels, 3, padding=1)]
        self.convs = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return resampled(self.convs(self.head(z).view(-1, *self.shape)), self.image_size)


@register
class ResVAE(VAE):
    """Residual VAE for ``[B, in_channels, image_size, image_size]`` images in [0, 1].

    A :class:`~leapfactual.models.Codec` with :class:`~leapfactual.models.ConvVAE`'s interface:
    ``encode`` returns the posterior mean, ``decode`` images of exactly the input size in
    [0, 1], ``loss(x, generator) -> (total, recon, kl)``.

    Args:
        in_channels: image channels (1 grey, 3 RGB; any positive number works).
        image_size: side of the square images, at least 8.
        latent_dim: size of the latent z.
        width: channels of the first stage; they double per stage up to ``8 * width``
            (16; see the module docstring before raising it).
        beta: weight of the KL term; the default is ``fit``'s for this kind (a small weight
            keeps what a classifier reads, docs/design-notes.md).
        reference_var: pixel variance the MSE is rescaled to (module docstring); ``None``
            keeps the plain MSE.
        work_size: side the convolutions work at, from 8 up to ``image_size`` (``None``:
            ``image_size``); below it, images are averaged down to it going in and resampled
            up (bicubic) coming out, so detail finer than ``work_size`` pixels is lost (module
            docstring).
    """

    def __init__(
        self,
        in_channels: int = 3,
        image_size: int = 32,
        latent_dim: int = 32,
        width: int = 16,
        beta: float = 1e-5,
        reference_var: float | None = MNIST_PIXEL_VAR,
        work_size: int | None = None,
    ) -> None:
        super().__init__()
        for name, value, low in (
            ("in_channels", in_channels, 1),
            ("image_size", image_size, MIN_SIDE),
            ("latent_dim", latent_dim, 1),
            ("width", width, 1),
            ("work_size", image_size if work_size is None else work_size, MIN_SIDE),
        ):
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
                hint = "; use ConvVAE for smaller images" if name == "image_size" else ""
                raise ValueError(f"ResVAE {name} must be an integer >= {low}, got {value!r}{hint}")
        if work_size is not None and work_size > image_size:
            raise ValueError(
                f"ResVAE work_size must be at most image_size ({image_size}), got {work_size}; "
                "leave it unset to work at the images' own size"
            )
        if not _finite(beta) or beta < 0:
            raise ValueError(f"ResVAE beta must be a finite number >= 0, got {beta!r}")
        if reference_var is not None and (not _finite(reference_var) or reference_var <= 0):
            raise ValueError(
                f"ResVAE reference_var must be a finite number > 0 or None, got {reference_var!r}"
            )
        self.in_channels, self.image_size = int(in_channels), int(image_size)
        self.latent_dim, self.beta = int(latent_dim), float(beta)
        self.reference_var = None if reference_var is None else float(reference_var)
        self.work_size = self.image_size if work_size is None else int(work_size)
        shape = (self.in_channels, self.image_size, self.latent_dim, int(width), self.work_size)
        self.encoder = ResEncoder(*shape)
        self.decoder = ResDecoder(*shape)

    def decode(self, z: Tensor) -> Tensor:
        """Images ``[B, in_channels, image_size, image_size]`` in [0, 1]."""
        check_matrix(z, self.latent_dim, None, "latents")
        return self.decoder(z).clamp(0.0, 1.0)

    def recon_weight(self, x: Tensor) -> Tensor | float:
        """``reference_var / var(x)`` (the batch's pixel variance, not differentiated), or 1
        when ``reference_var`` is None: see the module docstring."""
        if self.reference_var is None:
            return 1.0
        return self.reference_var / x.detach().var().clamp_min(MIN_VAR)


def _finite(value: object) -> bool:
    """A real, finite number (not a bool)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
