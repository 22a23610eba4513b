"""CPU time to a run, before (fixed epochs) and after (early stopping + channels-last), and the
quality each run reaches; writes ``docs/results/fit-speed.md``.

    python benchmarks/fit_speed.py [--shapes 1000] [--size 32] [--explain 200] [--patience 2]
                                   [--shapes-steps 400 200 200]
                                   [--out docs/results/fit-speed.md]

Two data sets, each fitted twice by ``fit_run`` (stages vae, classifier, flow) in this process,
one after the other, seed 0: the demo's (``mnist5k``, ``FitSettings()`` as ``make demo`` fits
it) and colour shapes (``colour_shapes(N, SIZE)``, 4 classes, the residual VAE). *Before*: the
settings as they are. *After*: ``patience`` on all three stages and ``channels_last`` on the VAE
and the classifier. Times are CPU process time of the fit (this process, one torch thread)
and wall time. Quality on the run's held-out split, each with its standard error over the
held-out images: PSNR / SSIM of the reconstructions, the classifier's accuracy and its
agreement with itself on reconstructions, the flow's conditional sample accuracy (64 samples
a class), and of LeapFactual CEs (default schedule) of the first ``--explain`` held-out
images toward a random other class: validity, and the validity an independent judge gives
(a wider CNN, seed 99, trained once per data set on the before-run's training split; neither
run trains it). A first table times one training step per built-in model in each memory
layout and under ``torch.compile``, on the same weights and batch.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from tempfile import TemporaryDirectory

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from leapfactual.data import Dataset, colour_shapes, load_dataset
from leapfactual.explain import random_other_targets
from leapfactual.metrics import psnr, ssim
from leapfactual.models import CNNClassifier, ConvVAE, ResVAE
from leapfactual.pipeline import (
    ClassifierSettings,
    FitSettings,
    FlowSettings,
    Run,
    VAESettings,
    encode_decode,
    fit_classifier,
    fit_run,
    predict_probs,
)
from paper.pages import write_page

Quality = dict[str, tuple[float, float]]
"""Name -> (value, standard error)."""


def step_ms(make: Callable[[], nn.Module], x: Tensor, layout: str, repeats: int) -> float:
    """CPU milliseconds of one training step (loss, backward, Adam) of a fresh model on ``x``,
    the median of ``repeats`` after three warm-up steps (compile: its warm-up included once)."""
    torch.manual_seed(0)
    model = make()
    if layout == "channels_last":
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def loss(m: nn.Module, x: Tensor) -> Tensor:
        if isinstance(m, CNNClassifier):
            return F.cross_entropy(m(x), torch.zeros(len(x), dtype=torch.long))
        return m.loss(x, torch.Generator().manual_seed(0))[0]  # type: ignore[operator]

    run = torch.compile(loss) if layout == "compile" else loss
    times = []
    for i in range(3 + repeats):
        start = time.process_time()
        optimizer.zero_grad()
        run(model, x).backward()
        optimizer.step()
        if i >= 3:
            times.append(time.process_time() - start)
    return 1000 * sorted(times)[len(times) // 2]


def step_table(repeats: int) -> list[str]:
    g = torch.Generator().manual_seed(0)
    grey, rgb = torch.rand(64, 1, 28, 28, generator=g), torch.rand(64, 3, 32, 32, generator=g)
    models: list[tuple[str, Callable[[], nn.Module], Tensor]] = [
        ("CNN classifier, 28 px grey", lambda: CNNClassifier(1, 28, 10, 32), grey),
        ("ConvVAE, 28 px grey", lambda: ConvVAE(1, 28, 32, 32, 0.00025), grey),
        ("CNN classifier, 32 px RGB", lambda: CNNClassifier(3, 32, 4, 32), rgb),
        ("ResVAE, 32 px RGB", lambda: ResVAE(3, 32, 32, 16, beta=1e-5), rgb),
    ]
    lines = [
        "| model (batch 64) | contiguous ms | channels-last ms | ratio "
        "| torch.compile ms | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for name, make, x in models:
        base = step_ms(make, x, "contiguous", repeats)
        last = step_ms(make, x, "channels_last", repeats)
        try:
            compiled = f"{step_ms(make, x, 'compile', repeats):.1f}"
            ratio = f"{float(compiled) / base:.2f}"
        except Exception as err:  # compile needs a working C compiler: say what happened
            compiled, ratio = f"failed: {type(err).__name__}", "-"
        lines.append(
            f"| {name} | {base:.1f} | {last:.1f} | {last / base:.2f} | {compiled} | {ratio} |"
        )
        print(lines[-1], flush=True)
    return lines


def mean_se(values: Tensor) -> tuple[float, float]:
    v = values.double()
    return float(v.mean()), float(v.std() / math.sqrt(len(v))) if len(v) > 1 else math.nan


def share_se(p: float, n: int) -> tuple[float, float]:
    return p, math.sqrt(max(p * (1 - p), 0.0) / n)


def quality(run: Run, judge: nn.Module, explain: int) -> Quality:
    test = run.test
    x = test.images.float() / 255 if test.images.dtype == torch.uint8 else test.images
    _, recon = encode_decode(run.vae, x)
    before = predict_probs(run.classifier, x).argmax(1)  # type: ignore[arg-type]
    after = predict_probs(run.classifier, recon).argmax(1)  # type: ignore[arg-type]
    n = min(explain, len(test))
    targets = random_other_targets(test.labels[:n], test.num_classes, 0)
    exp = run.explainer().explain(x[:n], targets)
    judged = predict_probs(judge, exp.x_cf).argmax(1)
    flow = run.summary["flow_sample_accuracy"]
    windowed = min(x.shape[-2:]) >= 11  # SSIM's window
    return {
        "PSNR (dB)": mean_se(psnr(recon, x)),
        **({"SSIM": mean_se(ssim(recon, x))} if windowed else {}),
        "classifier accuracy": mean_se((before == test.labels).float()),
        "agreement on reconstructions": mean_se((before == after).float()),
        "flow sample accuracy": share_se(flow, 64 * test.num_classes),
        "validity": mean_se(exp.valid.float()),
        "judge's validity": mean_se((judged == targets).float()),
    }


def fitted(
    config: FitSettings, data: Dataset, where: Path
) -> tuple[Run, float, float, dict[str, object]]:
    """A run of ``config`` fitted in ``where``, its CPU and wall seconds, its stopping records."""
    cpu, wall = time.process_time(), time.perf_counter()
    run = fit_run(where, config, stages=("vae", "classifier", "flow"), dataset=data)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return run, cpu, wall, run.meta.get("stopping", {})


def after_of(config: FitSettings, patience: int) -> FitSettings:
    return replace(
        config,
        vae=replace(config.vae, patience=patience, channels_last=True),
        classifier=replace(config.classifier, patience=patience, channels_last=True),
        flow=replace(config.flow, patience=patience),
    )


def compare(
    name: str, config: FitSettings, data: Dataset, args: argparse.Namespace, tmp: Path
) -> list[str]:
    """Fit before and after, judge both; the section's lines."""
    before, cpu_b, wall_b, stop_b = fitted(config, data, tmp / f"{name}-before")
    train = before.train
    judge = fit_classifier(
        train.images, train.labels, train.num_classes, ClassifierSettings(width=48), 99
    )
    q_before = quality(before, judge, args.explain)
    after, cpu_a, wall_a, stop_a = fitted(after_of(config, args.patience), data, tmp / f"{name}-a")
    q_after = quality(after, judge, args.explain)
    lines = [
        f"CPU time of the fit: before {cpu_b:.0f} s, after {cpu_a:.0f} s: **{cpu_a / cpu_b:.2f}x** "
        f"(wall {wall_b:.0f} s and {wall_a:.0f} s: {wall_a / wall_b:.2f}x).",
        "",
        "| stage | before: epochs (steps) | after: epochs of max (steps) | why it stopped |",
        "|---|---|---|---|",
    ]
    for stage in ("classifier", "vae", "flow"):
        b, a = stop_b[stage], stop_a[stage]
        assert isinstance(b, dict) and isinstance(a, dict)
        lines.append(
            f"| {stage} | {b['epochs']} ({b['steps']}) | {a['epochs']} of {a['max_epochs']} "
            f"({a['steps']}) | {a['reason']} |"
        )
    lines += [
        "",
        "| quality (held-out) | before | after | after - before, in SE | within 1 SE or better |",
        "|---|---|---|---|---|",
    ]
    equal = True
    for key, (vb, sb) in q_before.items():
        va, sa = q_after[key]
        se = max(sb, sa)
        gap = (va - vb) / se if se > 0 else 0.0
        ok = gap >= -1
        equal &= ok
        lines.append(
            f"| {key} | {vb:.4f} ± {sb:.4f} | {va:.4f} ± {sa:.4f} | {gap:+.2f} | "
            f"{'yes' if ok else 'no'} |"
        )
    half = cpu_a <= 0.5 * cpu_b
    lines += [
        "",
        "Target (at most half the CPU time at equal quality): "
        f"**{'met' if half and equal else 'not met'}** "
        f"(CPU {cpu_a / cpu_b:.2f}x; every quality figure within one SE or better: "
        f"{'yes' if equal else 'no'}).",
    ]
    print("\n".join(lines), flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", type=int, default=1000, help="colour shapes images")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--explain", type=int, default=200)
    parser.add_argument("--patience", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--shapes-steps",
        type=int,
        nargs=3,
        default=[400, 200, 200],
        help="min_steps of the VAE, classifier and flow for colour shapes (both arms)",
    )
    parser.add_argument("--out", default="docs/results/fit-speed.md")
    args = parser.parse_args()
    torch.set_num_threads(1)
    began, load = time.perf_counter(), os.getloadavg()[0]
    command = " ".join(["python", "benchmarks/fit_speed.py", *sys.argv[1:]])
    steps = step_table(args.repeats)
    with TemporaryDirectory() as tmp:
        digits = load_dataset("mnist5k")  # loaded before the clocks start, as the shapes are
        demo = compare("mnist5k", FitSettings(), digits, args, Path(tmp))
        shapes_data = colour_shapes(args.shapes, args.size, seed=0)
        vae, classifier, flow = args.shapes_steps
        small = FitSettings(
            data="shapes",
            vae=VAESettings(min_steps=vae),
            classifier=ClassifierSettings(min_steps=classifier),
            flow=FlowSettings(min_steps=flow),
        )
        shapes = compare("shapes", small, shapes_data, args, Path(tmp))
    page = write_page(
        args.out,
        "Fit speed: CPU time to a run, fixed epochs vs early stopping",
        command,
        f"`mnist5k` as `make demo` fits it (4,000 train / 1,000 held-out digits); colour shapes "
        f"({args.shapes} images of {args.size} px, 80 / 20 split), seed 0.",
        time.perf_counter() - began,
        [
            "Limits first: one seed per arm; standard errors are over held-out images, not "
            "over seeds (a second seed could move a figure by more); one torch thread; "
            f"load average {load:.1f} at the start on {os.cpu_count()} cores shared with "
            "other work (CPU process time is what the ratios use). Sized to the round's "
            f"budget: colour shapes at {args.size} px only (64 px not run), {args.shapes} "
            f"images, {args.explain} CEs per run, and on the shapes `min_steps` of "
            f"{'/'.join(map(str, args.shapes_steps))} (VAE / classifier / flow) instead of "
            "1000/500/480 in both arms (fewer steps: lower quality than a default fit).",
            f"After = `patience={args.patience}` (min_improvement 0.01) on the VAE, classifier "
            "and flow + `channels_last` on the VAE and classifier; before = the settings as "
            "they are (fixed epochs). `min_steps` (VAE 1000, classifier 500, flow 480 "
            "optimiser steps) bounds both: early stopping never stops before it.",
        ],
        [
            (
                "One training step per built-in model (CPU ms, median)",
                [
                    "Same weights and batch; the three memory paths side by side in one "
                    "process. torch.compile's first steps (its compilation) are not counted.",
                    "",
                    *steps,
                ],
            ),
            ("The demo's data (mnist5k)", demo),
            (f"Colour shapes, {args.size} px", shapes),
        ],
    )
    print(f"\npage: {page}")


if __name__ == "__main__":
    main()
