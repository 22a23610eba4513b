"""Does the residual VAE keep what a user's classifier looks at? KL weight x training length.

    python benchmarks/codec_agreement.py [--size 32] [--betas 2.5e-4 2.5e-5 1e-5 0]
                                         [--epochs 30 100]

Data and classifier as in ``leapfactual own-model``: ``colour_shapes(1200, size, seed=0)``
(the first 960 images train, the last 240 test) and the user-side CNN trained on 2,000 other
images (``train_user_classifier``). Every ResVAE (latent 64, width 16) trains with
``train_vae`` (batch 32, lr 2e-3, seed 0: 30 steps per epoch). Rows: held-out PSNR / SSIM and
the classifier's agreement with itself on ``decode(encode(x))`` (the number ``fit`` warns on
below 0.9). Minutes per row on a 2-core CPU at 32 px.
"""

from __future__ import annotations

import argparse
import time

import torch

from leapfactual.data.shapes import colour_shapes
from leapfactual.experiments.own_model import train_user_classifier
from leapfactual.metrics.reconstruction import codec_quality
from leapfactual.models import train_vae
from leapfactual.models.resvae import ResVAE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--betas", type=float, nargs="+", default=[2.5e-4, 2.5e-5, 1e-5, 0.0])
    parser.add_argument("--epochs", type=int, nargs="+", default=[30, 100])
    args = parser.parse_args()
    data = colour_shapes(1200, args.size, seed=0)
    train, test = data.images[:960], data.images[960:]
    user = train_user_classifier(colour_shapes(2000, args.size, 1), 16, 4, 0)
    print(f"{'beta':>8} {'epochs':>6} {'steps':>6} {'PSNR':>6} {'SSIM':>6} {'agree':>6} {'s':>6}")
    for epochs in args.epochs:
        for beta in args.betas:
            torch.manual_seed(0)
            codec = ResVAE(3, args.size, 64, 16, beta=beta)
            start = time.perf_counter()
            train_vae(codec, train, epochs=epochs, batch_size=32, seed=0)
            seconds = time.perf_counter() - start
            q = codec_quality(codec.eval(), test, classifier=user)
            print(
                f"{beta:8.2g} {epochs:6d} {epochs * 30:6d} {q['psnr']:6.2f} {q['ssim']:6.3f} "
                f"{q['agreement']:6.3f} {seconds:6.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
