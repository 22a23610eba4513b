"""Stand-ins for what a user brings: an image folder in class sub-folders and a classifier they
trained themselves and exported, so that the bring-your-own-model path can be tried, taught
and tested without a user's files.

:class:`UserCNN` is a small CNN of the kind a user trains on their own (any architecture would
do); :func:`train_user_classifier` is their plain PyTorch training loop (not the library's);
:func:`export_classifier` saves it as ``torch.export`` with a dynamic batch size (the export a
user should make); :func:`write_image_folder` writes a :class:`~leapfactual.data.Dataset` as
PNG files in one folder per class.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from leapfactual.data import Dataset
from leapfactual.io import png_bytes


class UserCNN(nn.Module):
    """The kind of small classifier a user trains on their own (any architecture would do):
    convolutions with batch norm, a global max pool, a linear head. Its depth follows the image
    side, as a user's would: one more stride-2 block per doubling beyond 32 px, so that the last
    feature map is 8 px or less and the receptive field grows with the image (11 px at 32, 19
    at 64, 35 at 128); with 11 px on a 128 px image it would see no more of a shape than a
    corner or a nearly straight piece of outline."""

    def __init__(self, classes: int, width: int = 16, channels: int = 3, size: int = 32) -> None:
        super().__init__()

        def block(c_in: int, c_out: int, stride: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, stride, 1), nn.BatchNorm2d(c_out), nn.ReLU()]

        layers = [*block(channels, width, 2), *block(width, 2 * width, 1)]
        for _ in range(1 + extra_stages(size)):
            layers += block(2 * width, 2 * width, 2)
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(2 * width, classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x).amax(dim=(2, 3)))


def extra_stages(size: int) -> int:
    """Stride-2 blocks :class:`UserCNN` adds for ``size`` px: one per doubling beyond 32."""
    return max(0, math.ceil(math.log2(size / 32)))


def train_user_classifier(data: Dataset, width: int, epochs: int, seed: int) -> UserCNN:
    """The user's own training code: Adam, cross-entropy, minibatches of 64."""
    torch.manual_seed(seed)
    model = UserCNN(data.num_classes, width, data.images.shape[1], data.images.shape[-1])
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(data), generator=generator).split(64):
            optimiser.zero_grad()
            F.cross_entropy(model(data.images[idx]), data.labels[idx]).backward()
            optimiser.step()
    return model.eval()


def export_classifier(model: nn.Module, example: Tensor, path: Path) -> Path:
    """Save ``model`` as a ``torch.export`` program with a dynamic batch size."""
    batch = torch.export.Dim("batch", min=1)
    program = torch.export.export(model, (example,), dynamic_shapes=({0: batch},))
    torch.export.save(program, str(path))
    return path


def write_image_folder(data: Dataset, root: Path) -> Path:
    """``data`` as PNG files in one sub-folder per class (what a user's folder looks like).

    Folders are read in sorted order, which must be the classifier's class order: they are
    named ``0-red-circle``, ``1-red-square``, ... so that it is.
    """
    for k, name in enumerate(data.class_names):
        sub = root / f"{k}-{name}"
        sub.mkdir(parents=True, exist_ok=True)
        for i in torch.nonzero(data.labels == k).flatten().tolist():
            (sub / f"{i:05d}.png").write_bytes(png_bytes(data.images[i]))
    return root
