"""A small reference CNN classifier (the paper's MNIST model reaches about 97 %)."""

from __future__ import annotations

import itertools

from torch import Tensor, nn

from leapfactual.io import register
from leapfactual.models.layers import check_images, stage_channels, stage_sides


@register
class CNNClassifier(nn.Module):
    """3x3 conv + ReLU + 2x2 max-pool stages down to a side <= 7, then a two-layer MLP head.

    Returns logits ``[B, num_classes]``. No dropout or batch norm, so a sample's output never
    depends on the rest of its batch and training is exactly reproducible.

    Args:
        in_channels: image channels.
        image_size: side of the square images (28: two stages, 128: five).
        num_classes: number of outputs.
        width: channels of the first stage (doubling per stage, at most 8x).
        hidden: width of the MLP head.
    """

    input_range: tuple[float, float] = (0.0, 1.0)
    """Pixel range of the images it takes (checked by explainers)."""

    def __init__(
        self,
        in_channels: int = 1,
        image_size: int = 28,
        num_classes: int = 10,
        width: int = 32,
        hidden: int = 128,
    ) -> None:
        super().__init__()
        if in_channels < 1 or num_classes < 1 or hidden < 1:
            raise ValueError("in_channels, num_classes and hidden must be positive")
        self.in_channels, self.image_size, self.num_classes = in_channels, image_size, num_classes
        sides = stage_sides(image_size)
        chans = [in_channels, *stage_channels(width, len(sides) - 1)]
        layers: list[nn.Module] = []
        for c_in, c_out in itertools.pairwise(chans):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(chans[-1] * sides[-1] ** 2, hidden),
            nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``[B, num_classes]`` of images ``[B, in_channels, image_size, image_size]``."""
        check_images(x, self.in_channels, self.image_size, type(self).__name__)
        return self.head(self.features(x))

    def embed(self, x: Tensor) -> Tensor:
        """Penultimate features ``[B, hidden]`` (e.g. the feature network of FID / KID)."""
        check_images(x, self.in_channels, self.image_size, type(self).__name__)
        return self.head[:-1](self.features(x))
