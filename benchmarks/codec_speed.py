"""Speed of ConvVAE vs ResVAE (default widths, 64 latent dimensions), side by side in one run:
one training step (loss, backward, Adam) and one encode + decode, in milliseconds per image.

    python benchmarks/codec_speed.py [--sizes 28 32 64] [--batch 32] [--repeats 15] [--device cpu]

28 px runs grey (1 channel), other sides RGB. Each time is the median of ``--repeats`` rounds
after one warm-up, the four jobs of a side in turn. The machine may be shared: read the ratios,
not the absolute times.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from leapfactual.models import ConvVAE, ResVAE


def tasks(model: torch.nn.Module, x: torch.Tensor) -> list[Callable[[], object]]:
    """One training step (loss, backward, Adam) and one encode + decode of ``x``."""
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

    return [step, codec]


def interleaved_ms(jobs: list[Callable[[], object]], repeats: int, x: torch.Tensor) -> list[float]:
    """Median milliseconds per image of each job, the jobs run in turn ``repeats`` times after
    one warm-up round (so that a burst of load on a shared machine hits them all)."""
    times: list[list[float]] = [[] for _ in jobs]
    for round_ in range(repeats + 1):
        for job, spent in zip(jobs, times, strict=True):
            start = time.perf_counter()
            job()
            if x.device.type == "cuda":
                torch.cuda.synchronize(x.device)
            if round_:
                spent.append(time.perf_counter() - start)
    return [statistics.median(spent) * 1000 / x.shape[0] for spent in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[28, 32, 64])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=15)
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
        res = ResVAE(channels, size, 64, beta=0.00025).to(device)
        conv_train, conv_code, res_train, res_code = interleaved_ms(
            tasks(conv, x) + tasks(res, x), args.repeats, x
        )
        params = [sum(p.numel() for p in m.parameters()) for m in (conv, res)]
        print(
            f"{size:>3} {channels:>2} | {conv_train:18.3f} {res_train:7.3f} "
            f"{res_train / conv_train:6.2f} | {conv_code:20.3f} {res_code:7.3f} "
            f"{res_code / conv_code:6.2f} | {params[0]:>12,} {params[1]:>9,}"
        )


if __name__ == "__main__":
    main()
