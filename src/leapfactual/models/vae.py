"""Reference convolutional VAEs: the codec LeapFactual works in, and the CGM baseline's CVAE.

Loss (docs/method.md §6.2): ``MSE + beta * KL`` with the reductions of the PyTorch-VAE convention
that the paper's ``beta = 0.00025`` comes from: MSE is the **mean over every pixel and
channel**, KL is the **sum over latent dimensions, averaged over the batch**. With these, an
image's reconstruction term is O(1e-2) and the KL term O(1e-2) too, so beta is a mild
regulariser whatever the image size.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from leapfactual.io import register
from leapfactual.models.layers import check_images, check_matrix, stage_channels, stage_sides

LOGVAR_RANGE = (-30.0, 20.0)


class ConvEncoder(nn.Module):
    """Stride-2 4x4 convolutions down to a side <= 7, then a linear map to (mu, logvar).

    With ``cond_dim > 0`` the condition vector joins the flattened features before the linear.
    """

    def __init__(
        self, in_channels: int, image_size: int, latent_dim: int, width: int, cond_dim: int = 0
    ) -> None:
        super().__init__()
        sides = stage_sides(image_size)
        chans = [in_channels, *stage_channels(width, len(sides) - 1)]
        layers: list[nn.Module] = []
        for c_in, c_out in itertools.pairwise(chans):
            layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        self.convs = nn.Sequential(*layers)
        self.head = nn.Linear(chans[-1] * sides[-1] ** 2 + cond_dim, 2 * latent_dim)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        h = self.convs(x).flatten(1)
        if cond is not None:
            h = torch.cat([h, cond.to(h.dtype)], dim=1)
        mu, logvar = self.head(h).chunk(2, dim=1)
        return mu, logvar


class ConvDecoder(nn.Module):
    """Linear map to the smallest feature map, then transposed convolutions back to the
    exact input size (output padding absorbs odd sides), and a sigmoid."""

    def __init__(
        self, in_channels: int, image_size: int, latent_dim: int, width: int, cond_dim: int = 0
    ) -> None:
        super().__init__()
        sides = stage_sides(image_size)
        chans = [in_channels, *stage_channels(width, len(sides) - 1)]
        self.shape = (chans[-1], sides[-1], sides[-1])
        self.head = nn.Linear(latent_dim + cond_dim, chans[-1] * sides[-1] ** 2)
        layers: list[nn.Module] = []
        for i in range(len(sides) - 1, 0, -1):
            pad = sides[i - 1] - 2 * sides[i]
            layers.append(nn.ConvTranspose2d(chans[i], chans[i - 1], 4, 2, 1, output_padding=pad))
            if i > 1:
                layers.append(nn.LeakyReLU(0.2))
        self.convs = nn.Sequential(*layers)
        self.head_act = nn.LeakyReLU(0.2) if len(sides) > 1 else nn.Identity()

    def forward(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        if cond is not None:
            z = torch.cat([z, cond.to(z.dtype)], dim=1)
        h = self.head_act(self.head(z)).view(-1, *self.shape)
        return torch.sigmoid(self.convs(h))


def kl_divergence(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)): sum over latent dimensions, mean over the batch."""
    return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)).mean()


def reparameterise(mu: Tensor, logvar: Tensor, generator: torch.Generator | None) -> Tensor:
    """``mu + exp(logvar / 2) * eps`` with ``eps`` drawn from ``generator`` (on the CPU)."""
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype).to(mu.device)
    return mu + (0.5 * logvar).exp() * eps


class VAE(nn.Module):
    """What every VAE codec here shares: a Gaussian encoder (``self.encoder`` gives ``(mu,
    logvar)``), the posterior mean as the latent, and the two terms of the loss on one sampled
    latent. Subclasses build ``encoder`` / ``decoder`` and define ``decode`` (and may weight
    the reconstruction term: ``recon_weight``)."""

    input_range: tuple[float, float] = (0.0, 1.0)
    """Pixel range of the images it takes (checked by explainers)."""

    in_channels: int
    image_size: int
    latent_dim: int
    beta: float
    encoder: nn.Module
    decoder: nn.Module

    def encode_dist(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Posterior ``(mu, logvar)``, each ``[B, latent_dim]``."""
        check_images(x, self.in_channels, self.image_size, type(self).__name__)
        mu, logvar = self.encoder(x)
        return mu, logvar.clamp(*LOGVAR_RANGE)

    def encode(self, x: Tensor) -> Tensor:
        """Posterior mean ``[B, latent_dim]``: the deterministic latent of ``x``."""
        return self.encode_dist(x)[0]

    def decode(self, z: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        """Deterministic reconstruction ``decode(encode(x))``."""
        return self.decode(self.encode(x))

    def recon_weight(self, x: Tensor) -> Tensor | float:
        """Factor of the reconstruction term in the total loss (1 here)."""
        return 1.0

    def loss(
        self,
        x: Tensor,
        generator: torch.Generator | None = None,
        agreement: Callable[[Tensor, Tensor], Tensor] | None = None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """``(total, recon, kl)`` on one sampled latent: ``recon`` the MSE of the raw decoder
        output, ``kl`` :func:`kl_divergence`, ``total = recon * recon_weight(x) + beta * kl``,
        plus ``agreement(x, reconstruction)`` when given (the reconstruction clamped to
        [0, 1], as ``decode`` returns it; see ``pipeline.build.agreement_term``)."""
        mu, logvar = self.encode_dist(x)
        output = self.decoder(reparameterise(mu, logvar, generator))
        recon, kl = F.mse_loss(output, x), kl_divergence(mu, logvar)
        total = recon * self.recon_weight(x) + self.beta * kl
        if agreement is not None:
            total = total + agreement(x, output.clamp(0.0, 1.0))
        return total, recon, kl


@register
class ConvVAE(VAE):
    """Convolutional VAE for ``[B, in_channels, image_size, image_size]`` images in [0, 1].

    A :class:`~leapfactual.models.Codec`: ``encode`` returns the posterior mean (deterministic),
    ``decode`` returns sigmoid images of exactly the input size. Sides above 7 get one stride-2
    stage per halving (28: two, 8: one, 32: three, 128: five); channels double per stage from
    ``width`` up to ``8 * width``.

    Args:
        in_channels: image channels (1 for digits, 3 for galaxies).
        image_size: side of the square images.
        latent_dim: size of the latent z (32 for MNIST, 64 for galaxies).
        width: channels of the first stage.
        beta: weight of the KL term (see the module docstring for the reductions).
    """

    def __init__(
        self,
        in_channels: int = 1,
        image_size: int = 28,
        latent_dim: int = 32,
        width: int = 32,
        beta: float = 0.00025,
    ) -> None:
        super().__init__()
        if in_channels < 1 or latent_dim < 1 or beta < 0:
            raise ValueError("in_channels and latent_dim must be positive and beta >= 0")
        self.in_channels, self.image_size = in_channels, image_size
        self.latent_dim, self.beta = latent_dim, beta
        self.encoder = ConvEncoder(in_channels, image_size, latent_dim, width)
        self.decoder = ConvDecoder(in_channels, image_size, latent_dim, width)

    def decode(self, z: Tensor) -> Tensor:
        """Images ``[B, in_channels, image_size, image_size]`` in (0, 1)."""
        check_matrix(z, self.latent_dim, None, "latents")
        return self.decoder(z)


@register
class ConditionalVAE(nn.Module):
    """Conditional VAE for the CGM baseline: encoder and decoder both see a condition.

    ``cond`` is a probability vector ``[B, num_classes]``: the classifier's softmax in training,
    a one-hot of the target at explanation time. Same architecture and loss as
    :class:`ConvVAE`, with ``cond`` concatenated to the encoder's flattened features and to the
    decoder's latent input.

    ``beta`` decides how much class information the latent keeps, hence whether decoding under
    another class changes the class. Measured on 4,000 MNIST digits (40 epochs; held-out
    reconstruction MSE / share of ``decode(encode(x, softmax f(x)), onehot(y'))`` that the
    classifier puts in y'): beta 0.00025: 0.0074 / 0.36, 0.0005: 0.0098 / 0.81,
    **0.001: 0.0140 / 0.96** (the default; the paper's CGM baseline reaches 0.94),
    0.0025: 0.0244 / 1.00.
    """

    input_range: tuple[float, float] = (0.0, 1.0)
    """Pixel range of the images it takes (checked by explainers)."""

    def __init__(
        self,
        in_channels: int = 1,
        image_size: int = 28,
        latent_dim: int = 32,
        num_classes: int = 10,
        width: int = 32,
        beta: float = 0.001,
    ) -> None:
        super().__init__()
        if in_channels < 1 or latent_dim < 1 or num_classes < 1 or beta < 0:
            raise ValueError(
                "in_channels, latent_dim and num_classes must be positive and beta >= 0"
            )
        self.in_channels, self.image_size = in_channels, image_size
        self.latent_dim, self.num_classes, self.beta = latent_dim, num_classes, beta
        self.encoder = ConvEncoder(in_channels, image_size, latent_dim, width, num_classes)
        self.decoder = ConvDecoder(in_channels, image_size, latent_dim, width, num_classes)

    def _check_cond(self, cond: Tensor, batch: int) -> None:
        check_matrix(cond, self.num_classes, batch, "cond (class probabilities)")

    def encode_dist(self, x: Tensor, cond: Tensor) -> tuple[Tensor, Tensor]:
        """Posterior ``(mu, logvar)`` of ``x`` under ``cond``."""
        check_images(x, self.in_channels, self.image_size, type(self).__name__)
        self._check_cond(cond, x.shape[0])
        mu, logvar = self.encoder(x, cond)
        return mu, logvar.clamp(*LOGVAR_RANGE)

    def encode(self, x: Tensor, cond: Tensor) -> Tensor:
        """Posterior mean ``[B, latent_dim]`` of ``x`` under ``cond``."""
        return self.encode_dist(x, cond)[0]

    def decode(self, z: Tensor, cond: Tensor) -> Tensor:
        """Images ``[B, in_channels, image_size, image_size]`` of ``z`` under ``cond``."""
        check_matrix(z, self.latent_dim, None, "latents")
        self._check_cond(cond, z.shape[0])
        return self.decoder(z, cond)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        """Deterministic reconstruction ``decode(encode(x, cond), cond)``."""
        return self.decode(self.encode(x, cond), cond)

    def loss(
        self, x: Tensor, cond: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """``(total, recon, kl)`` with ``total = recon + beta * kl`` on one sampled latent."""
        mu, logvar = self.encode_dist(x, cond)
        recon = F.mse_loss(self.decoder(reparameterise(mu, logvar, generator), cond), x)
        kl = kl_divergence(mu, logvar)
        return recon + self.beta * kl, recon, kl
