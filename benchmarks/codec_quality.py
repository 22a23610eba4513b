"""Held-out reconstruction of ConvVAE vs ResVAE on dim colour shapes, same optimiser steps.

    python benchmarks/codec_quality.py [--sizes 32 64] [--epochs 20]

Data: ``colour_shapes(400, size, seed=0)``, the first 320 images to train, the last 80 to test.
Every codec (64 latent dimensions, its default width: ConvVAE 32, ResVAE 16) trains with
``train_vae`` (batch 32, lr 2e-3, seed 0: 10 steps per epoch). Rows: PSNR / SSIM
of ``decode(encode(x))``, the spread of the reconstructions (0 when they are constant: a
collapse), and seconds per epoch; the first row is the "predict the mean training image"
baseline.
"""

from __future__ import annotations

import argparse
import time

import torch

from leapfactual.data import colour_shapes
from leapfactual.metrics import codec_quality, psnr, ssim
from leapfactual.models import ConvVAE, ResVAE, train_vae


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    codecs = {
        "ConvVAE": lambda s: ConvVAE(3, s, 64),
        "ResVAE": lambda s: ResVAE(3, s, 64, beta=0.00025),
        "ResVAE, plain MSE": lambda s: ResVAE(3, s, 64, beta=0.00025, reference_var=None),
    }
    print(f"{'codec':<20} {'px':>3} {'PSNR':>6} {'SSIM':>6} {'spread':>7} {'s/epoch':>8}")
    for size in args.sizes:
        data = colour_shapes(400, size, seed=0)
        train, test = data.images[:320], data.images[320:]
        mean = train.mean(0, keepdim=True).expand_as(test)
        print(
            f"{'mean image':<20} {size:>3} {psnr(mean, test).mean():6.2f} "
            f"{ssim(mean, test).mean():6.3f} {0.0:7.4f} {'':>8}"
        )
        for name, build in codecs.items():
            torch.manual_seed(0)
            codec = build(size)
            start = time.perf_counter()
            train_vae(codec, train, epochs=args.epochs, batch_size=32, lr=2e-3, seed=0)
            seconds = (time.perf_counter() - start) / args.epochs
            quality = codec_quality(codec, test)
            with torch.no_grad():
                spread = float(codec(test).std(0).mean())
            print(
                f"{name:<20} {size:>3} {quality['psnr']:6.2f} {quality['ssim']:6.3f} "
                f"{spread:7.4f} {seconds:8.2f}"
            )
        print(f"{'(data)':<20} {size:>3} {'':>6} {'':>6} {float(test.std(0).mean()):7.4f}")


if __name__ == "__main__":
    main()
