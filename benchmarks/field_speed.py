"""Speed of the flow's vector fields per CE on the same spatial latents, side by side in one
run: one lift-and-land (``leap``, LeapFactual's rk4 with 4 steps each way) of a batch, in
milliseconds of wall time and of CPU process time per CE.

    python benchmarks/field_speed.py [--shape 4 8 8] [--batch 32] [--repeats 10]

The latents are a diffusers AutoencoderKL's shape at 16 x 16 px by default (``[4, 8, 8]``,
256 values). The fields are built as ``fit`` builds them with the default ``flow.width`` 64 and
``flow.depth`` 3 (the MLP's hidden width and layers, the U-Nets' base channels and halvings):
``mlp`` and ``unet`` see the latents flat, ``unet2d`` as a grid. Each time is the median of
``--repeats`` rounds after one warm-up, the fields in turn. The machine may be shared: read
the ratios, not the times.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from leapfactual.flow import MLPField, Solver, UNet1DField, UNet2DField, VectorField, leap

WIDTH, DEPTH = 64, 3
"""``FlowSettings``' defaults."""


def fields(shape: tuple[int, int, int], classes: int) -> dict[str, VectorField]:
    dim = shape[0] * shape[1] * shape[2]
    torch.manual_seed(0)
    return {
        "mlp": MLPField(dim, classes, WIDTH, DEPTH),
        "unet": UNet1DField(dim, classes, width=WIDTH, depth=DEPTH, condition="softmax"),
        "unet2d": UNet2DField(shape, classes, width=WIDTH, depth=DEPTH, condition="softmax"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=3, default=[4, 8, 8])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    shape = (args.shape[0], args.shape[1], args.shape[2])
    classes = 10
    generator = torch.Generator().manual_seed(0)
    z = torch.randn(args.batch, shape[0] * shape[1] * shape[2], generator=generator)
    eye = torch.eye(classes)
    source = eye[torch.randint(classes, (args.batch,), generator=generator)]
    target = eye[torch.randint(classes, (args.batch,), generator=generator)]
    solver = Solver("rk4", 4)
    models = fields(shape, classes)
    wall: dict[str, list[float]] = {name: [] for name in models}
    cpu: dict[str, list[float]] = {name: [] for name in models}
    with torch.no_grad():
        for round_ in range(args.repeats + 1):
            for name, field in models.items():
                start, start_cpu = time.perf_counter(), time.process_time()
                leap(field, z, source, target, 1.0, 1.0, solver)
                if round_:
                    wall[name].append(time.perf_counter() - start)
                    cpu[name].append(time.process_time() - start_cpu)
    print(f"latents {list(shape)}, batch {args.batch}, {torch.get_num_threads()} thread(s)")
    print("field    params   wall ms/CE   cpu ms/CE   wall vs mlp")
    base = statistics.median(wall["mlp"])
    for name, field in models.items():
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        params = sum(p.numel() for p in field.parameters())
        per = 1000 / args.batch
        print(f"{name:7} {params:8,} {w * per:11.3f} {c * per:11.3f} {w / base:12.2f}x")


if __name__ == "__main__":
    main()
