"""Does the residual VAE keep what a user's classifier looks at? KL weight x training length.

    python benchmarks/codec_agreement.py [--size 32] [--images 1200]
                                         [--betas 2.5e-4 1e-5] [--epochs 30 100] [--grey]
                                         [--agreement 0 0.01] [--work-sizes 64 128]

Data and classifier as in ``leapfactual own-model``: ``colour_shapes(IMAGES, size, seed=0)``
(the first 80 % train, the rest test), the user-side CNN trained on 2,000 other images
(``train_user_classifier``) and the page's oracle (a wider CNN trained on 2,000 more).
``--grey`` makes every image one grey channel (the mean of its three) and the classes the two
shapes (colour is lost in grey), for both classifiers too. Every VAE is
``VAESettings(kind="resnet", latent_dim=64, batch_size=32, beta=BETA, epochs=EPOCHS,
agreement=WEIGHT, work_size=WORK)`` trained by ``pipeline.build.fit_vae`` (the path ``fit``
takes: the kind's learning rate, decays and gradient clip; WEIGHT > 0 adds the user
classifier's agreement term; WORK, the side the VAE works at, defaults to the size up to 64),
seed 0. Rows: held-out PSNR / SSIM; the user classifier's agreement with itself on
``decode(encode(x))`` (the number ``fit`` warns on below 0.9) and the oracle's (a codec
trained through the user's classifier can learn to satisfy that classifier alone: then only
the oracle's number is low); the reconstructions' edge energy over the images' (mean absolute
difference of neighbouring pixels: 1 is as much fine detail as the data, above 1 is added
texture or noise); seconds of training. First, as a yardstick of how much fine detail the
classifier reads: its agreement with itself on the held-out images blurred by a Gaussian of
sigma 0.5, 1 and 2 pixels, and on them averaged down to each smaller work size and resampled
back up (``models.resvae.resampled``, what a VAE that works at that size can give at best).
"""

from __future__ import annotations

import argparse
import itertools
import math
import time
from dataclasses import replace

import torch
from torch import Tensor
from torch.nn import functional as F

from leapfactual.data import Dataset, colour_shapes
from leapfactual.metrics import codec_quality, gaussian_kernel
from leapfactual.models import resampled
from leapfactual.pipeline import VAESettings, fit_vae
from leapfactual.testing import train_user_classifier
from paper.experiments.own_model import OwnModelConfig

BLURS = (0.5, 1.0, 2.0)


def blurred(images: Tensor, sigma: float) -> Tensor:
    """``images`` ``[N, C, H, W]`` blurred by a separable Gaussian (edges replicated)."""
    size = 2 * math.ceil(3 * sigma) + 1
    g = gaussian_kernel(size, sigma).to(images.dtype)
    c = images.shape[1]
    x = F.pad(images, (size // 2,) * 4, mode="replicate")
    x = F.conv2d(x, g.view(1, 1, 1, size).expand(c, 1, 1, size), groups=c)
    return F.conv2d(x, g.view(1, 1, size, 1).expand(c, 1, size, 1), groups=c)


def edge_energy(images: Tensor) -> float:
    """Mean absolute difference of neighbouring pixels (both axes): how much fine detail or
    noise the images hold."""
    rows = (images[..., 1:, :] - images[..., :-1, :]).abs().mean()
    cols = (images[..., :, 1:] - images[..., :, :-1]).abs().mean()
    return float(rows + cols) / 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--images", type=int, default=1200)
    parser.add_argument("--betas", type=float, nargs="+", default=[2.5e-4, 1e-5])
    parser.add_argument("--epochs", type=int, nargs="+", default=[30, 100])
    parser.add_argument("--grey", action="store_true", help="one grey channel")
    parser.add_argument("--agreement", type=float, nargs="+", default=[0.0])
    parser.add_argument("--work-sizes", type=int, nargs="+", default=[None])
    args = parser.parse_args()

    def shapes(n: int, seed: int) -> Dataset:
        data = colour_shapes(n, args.size, seed)
        if not args.grey:
            return data
        shape = data.labels % 2  # label k is colour k // 2 and shape k % 2
        grey = data.images.mean(1, keepdim=True)
        return replace(data, images=grey, labels=shape, class_names=["circle", "square"])

    data = shapes(args.images, 0)
    cut = int(0.8 * args.images)
    train, test = data.images[:cut], data.images[cut:]
    epochs = OwnModelConfig().user_epochs  # both as the own-model page's
    user = train_user_classifier(shapes(2000, 1), 16, epochs, 0)
    oracle = train_user_classifier(shapes(2000, 2), 24, epochs, 1)
    channels = "grey" if args.grey else "RGB"
    print(f"{args.size} px {channels}, {cut} training / {len(test)} held-out images")
    with torch.no_grad():
        answer = user(test).argmax(1)
        same = {s: (user(blurred(test, s)).argmax(1) == answer).float().mean() for s in BLURS}
    print(
        "agreement on blurred images: " + ", ".join(f"sigma {s}: {a:.3f}" for s, a in same.items())
    )
    sides = sorted(
        {VAESettings(kind="resnet", work_size=w).work_side(args.size) for w in args.work_sizes}
    )
    for side in (s for s in sides if s < args.size):
        with torch.no_grad():
            back = resampled(resampled(test, side), args.size).clamp(0.0, 1.0)
            agree = (user(back).argmax(1) == answer).float().mean()
        print(f"agreement on images averaged down to {side} px and resampled up: {agree:.3f}")
    head = f"{'beta':>8} {'agree w':>7} {'work':>4} {'epochs':>6} {'steps':>6} {'PSNR':>6}"
    print(f"{head} {'SSIM':>6} {'agree':>6} {'oracle':>6} {'edges':>6} {'s':>6}")
    grid = itertools.product(args.epochs, args.betas, args.agreement, args.work_sizes)
    for epochs, beta, weight, work in grid:
        settings = VAESettings(
            kind="resnet",
            latent_dim=64,
            batch_size=32,
            beta=beta,
            epochs=epochs,
            agreement=weight,
            work_size=work,
        )
        start = time.perf_counter()
        codec = fit_vae(train, settings, seed=0, classifier=user)
        seconds = time.perf_counter() - start
        q = codec_quality(codec, test, classifier=user)
        with torch.no_grad():
            recon = codec.decode(codec.encode(test))
            edges = edge_energy(recon) / edge_energy(test)
            same = (oracle(recon).argmax(1) == oracle(test).argmax(1)).float().mean()
        steps = epochs * math.ceil(cut / settings.batch_size)
        print(
            f"{beta:8.2g} {weight:7.2g} {settings.work_side(args.size):4d} {epochs:6d} "
            f"{steps:6d} {q['psnr']:6.2f} "
            f"{q['ssim']:6.3f} {q['agreement']:6.3f} {same:6.3f} {edges:6.2f} {seconds:6.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
