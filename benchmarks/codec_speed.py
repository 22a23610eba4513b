"""Speed of ConvVAE vs ResVAE (default widths, 64 latent dimensions), side by side in one run:
one training step (loss, backward, Adam) and one encode + decode, in milliseconds per image.

    python benchmarks/codec_speed.py [--sizes 28 32 64] [--batch 32] [--repeats 5] [--device cpu]

28 px runs grey (1 channel), other sides RGB. Each time is the median of ``--repeats`` runs
after one warm-up. The machine may be shared: read the ratios, not the absolute times.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from leapfactual.models import ConvVAE
from leapfactual.models.resvae import ResVAE


def median_seconds(fn: Callable[[], object], repeats: int, device: torch.device) -> float:
    """Median wall time of ``fn`` over ``repeats`` runs after one warm-up (GPU synchronised)."""
    times = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(model: torch.nn.Module, x: torch.Tensor, repeats: int) -> tuple[float, float]:
    """(training step, encode + decode) in milliseconds per image."""
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    generator = torch.Generator().manual_seed(0)

    def step() -> None:
        loss = model.loss(x, generator)[0]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    @torch.no_grad()
    def codec() -> None:
        model.decode(model.encode(x))

    per_image = 1000 / x.shape[0]
    return (
        median_seconds(step, repeats, x.device) * per_image,
        median_seconds(codec, repeats, x.device) * per_image,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[28, 32, 64])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"device {device}, batch {args.batch}, torch threads {torch.get_num_threads()}")
    print(
        f"{'px':>3} {'C':>2} | {'train ms/img: Conv':>18} {'Res':>7} {'ratio':>6} | "
        f"{'enc+dec ms/img: Conv':>20} {'Res':>7} {'ratio':>6} | {'params: Conv':>12} {'Res':>9}"
    )
    for size in args.sizes:
        channels = 1 if size == 28 else 3
        torch.manual_seed(0)
        x = torch.rand(args.batch, channels, size, size, device=device)
        conv = ConvVAE(channels, size, 64).to(device)
        res = ResVAE(channels, size, 64).to(device)
        (conv_train, conv_code), (res_train, res_code) = (
            measure(m, x, args.repeats) for m in (conv, res)
        )
        params = [sum(p.numel() for p in m.parameters()) for m in (conv, res)]
        print(
            f"{size:>3} {channels:>2} | {conv_train:18.3f} {res_train:7.3f} "
            f"{res_train / conv_train:6.2f} | {conv_code:20.3f} {res_code:7.3f} "
            f"{res_code / conv_code:6.2f} | {params[0]:>12,} {params[1]:>9,}"
        )


if __name__ == "__main__":
    main()
