"""Does the residual VAE keep what a user's classifier looks at? KL weight x training length.

    python benchmarks/codec_agreement.py [--size 32] [--images 1200]
                                         [--betas 2.5e-4 1e-5] [--epochs 30 100] [--grey]

Data and classifier as in ``leapfactual own-model``: ``colour_shapes(IMAGES, size, seed=0)``
(the first 80 % train, the rest test) and the user-side CNN trained on 2,000 other images
(``train_user_classifier``); ``--grey`` makes every image one grey channel (the mean of its
three) and the classes the two shapes (colour is lost in grey), for the user's classifier
too. Every VAE is
``VAESettings(kind="resnet", latent_dim=64, batch=32, beta=BETA, epochs=EPOCHS)`` trained
by ``pipeline.build.fit_vae`` (the path ``fit`` takes: the kind's learning rate, decays and
gradient clip), seed 0. Rows: held-out PSNR / SSIM
and the classifier's agreement with itself on ``decode(encode(x))`` (the number ``fit`` warns
on below 0.9), and seconds of training.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import replace

from leapfactual.data import Dataset
from leapfactual.data.shapes import colour_shapes
from leapfactual.experiments.own_model import train_user_classifier
from leapfactual.metrics.reconstruction import codec_quality
from leapfactual.pipeline import VAESettings
from leapfactual.pipeline.build import fit_vae


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--images", type=int, default=1200)
    parser.add_argument("--betas", type=float, nargs="+", default=[2.5e-4, 1e-5])
    parser.add_argument("--epochs", type=int, nargs="+", default=[30, 100])
    parser.add_argument("--grey", action="store_true", help="one grey channel")
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
    user = train_user_classifier(shapes(2000, 1), 16, 4, 0)
    channels = "grey" if args.grey else "RGB"
    print(f"{args.size} px {channels}, {cut} training / {len(test)} held-out images")
    print(f"{'beta':>8} {'epochs':>6} {'steps':>6} {'PSNR':>6} {'SSIM':>6} {'agree':>6} {'s':>6}")
    for epochs in args.epochs:
        for beta in args.betas:
            settings = VAESettings(kind="resnet", latent_dim=64, batch=32, beta=beta, epochs=epochs)
            start = time.perf_counter()
            codec = fit_vae(train, settings, seed=0)
            seconds = time.perf_counter() - start
            q = codec_quality(codec, test, classifier=user)
            steps = epochs * math.ceil(cut / settings.batch)
            print(
                f"{beta:8.2g} {epochs:6d} {steps:6d} {q['psnr']:6.2f} {q['ssim']:6.3f} "
                f"{q['agreement']:6.3f} {seconds:6.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
