"""Speed of every way to make a counterfactual, side by side on the same models and inputs.

    python benchmarks/speed.py [--limit 500] [--run runs/bench-mnist5k] [--device auto]

(``make bench``). Every row but the bound is a registered method
(:mod:`leapfactual.explain.registry`) with its options, built by ``Run.explainer``. Each row
runs in its own fresh subprocess (so its peak resident memory is its own), one after another
in one invocation; the table prints CEs per second, the ratio against our default, validity,
and peak memory. The machine is shared and noisy: read ratios, not absolute times. Also
prints peak memory of LeapFactual on 1k vs 20k images. ``--device auto`` (the default)
measures on the GPU when one is present, else on the CPU; every row records the device that
produced it (peak memory is the process's resident memory, so host memory only).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from typing import Any

import torch

ROWS: dict[str, tuple[str, str]] = {  # row -> (registry name, what this row runs)
    "leapfactual": ("leapfactual", "our defaults (fixed-step RK4, 4 steps per lift / land)"),
    "leapfactual-early": ("leapfactual", "our defaults + early stop (tol 1e-3)"),
    "leapfactual-reference": (
        "leapfactual",
        "reference-style (dopri5 atol = rtol = 1e-4, fixed counts)",
    ),
    "opt": ("opt", "AdamW, 1,000 steps"),
    "latent_attack": ("latent_attack", "Adam until p > 0.5, at most 1,000 steps"),
    "cgm": ("cgm", "one CVAE pass"),
}
BOUND = "bound"
BOUND_LABEL = "bound: decode + classify once per leap (20 leaps), nothing else"
SLOW = {"opt", "latent_attack"}


def options(row: str) -> dict[str, Any]:
    """The constructor options of ``row``'s method (empty: the method's defaults)."""
    from leapfactual.explain import Blend
    from leapfactual.flow import Solver

    rows: dict[str, dict[str, Any]] = {
        "leapfactual-early": {"blend": Blend(0.1, 15, tol=1e-3)},
        "leapfactual-reference": {"solver": Solver("dopri5", atol=1e-4, rtol=1e-4)},
    }
    return rows.get(row, {})


def label(row: str) -> str:
    """The row's title: the registry's title of its method, then what the row runs."""
    if row == BOUND:
        return BOUND_LABEL
    from leapfactual.explain.registry import method_info

    method, detail = ROWS[row]
    return f"{method_info(method).title}, {detail}"


def resolve(device: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is present, else ``cpu``; other names pass through."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def describe(device: str) -> str:
    """The device in words, for the table (the GPU's name on CUDA)."""
    dev = torch.device(device)
    return torch.cuda.get_device_name(dev) if dev.type == "cuda" else dev.type


def sync(device: str) -> None:
    """Wait for queued GPU work, so that a timer stops when the work is done."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def measure(row: str, run_dir: str, n: int, device: str = "cpu") -> dict[str, float | str]:
    """Time one row on the first ``n`` held-out digits (in this process, on ``device``;
    inputs start on the CPU and results come back there, as for a user)."""
    from leapfactual.explain.targets import random_other_targets
    from leapfactual.pipeline import load_run

    run = load_run(run_dir, device=device)
    test = run.test
    reps = -(-n // len(test))
    x = test.images.repeat(reps, 1, 1, 1)[:n]
    labels = test.labels.repeat(reps)[:n]
    target = random_other_targets(labels, test.num_classes, 0)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if row == BOUND:
        models = run.models()
        vae, classifier = models.codec, models.classifier
        start = time.perf_counter()
        with torch.no_grad():
            for i in range(0, n, 256):
                z = vae.encode(x[i : i + 256].to(device))
                for _ in range(20):
                    classifier(vae.decode(z))
        sync(device)
        seconds, valid = time.perf_counter() - start, float("nan")
    else:
        start = time.perf_counter()
        exp = run.explainer(ROWS[row][0], **options(row)).explain(x, target)
        sync(device)
        seconds, valid = time.perf_counter() - start, float(exp.valid.float().mean())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "seconds_per_ce": seconds / n,
        "validity": valid,
        "peak_mb": peak / 1024,
        "extra_mb": (peak - base) / 1024,
        "n": n,
        "device": describe(device),
    }


def child(row: str, run_dir: str, n: int, device: str) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            *("--one", row, "--run", run_dir, "--limit", str(n), "--device", device),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=500, help="CEs per fast method")
    parser.add_argument("--limit-slow", type=int, default=50, help="CEs for Opt-based / attack")
    parser.add_argument("--run", default="runs/bench-mnist5k", help="run directory")
    parser.add_argument("--memory", default="1000,20000", help="image counts for memory")
    parser.add_argument("--device", default="auto", help="auto (GPU if present), cpu, cuda:N")
    parser.add_argument("--one", choices=[*ROWS, BOUND], help=argparse.SUPPRESS)
    args = parser.parse_args()
    device = resolve(args.device)
    if args.one:
        print(json.dumps(measure(args.one, args.run, args.limit, device)))
        return
    from leapfactual.pipeline import FitConfig, fit_run

    print(f"fitting or reusing {args.run} ...", flush=True)
    stages = ("vae", "classifier", "flow", "cvae")
    fit_run(args.run, FitConfig(), stages, progress=True, device=device)
    print(
        f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}, device {describe(device)}"
    )
    results = {}
    for row in [*ROWS, BOUND]:
        n = args.limit_slow if row in SLOW else args.limit
        results[row] = child(row, args.run, n, device)
        print(f"  measured {row} on {n} digits", flush=True)
    ours = results["leapfactual"]["seconds_per_ce"]
    print(
        f"\n{'method':78s} {'ms/CE':>9s} {'CE/s':>8s} {'speed vs ours':>14s} "
        f"{'validity':>9s} {'peak MB':>8s}  device"
    )
    for row, r in results.items():
        print(
            f"{label(row):78s} {r['seconds_per_ce'] * 1e3:9.2f} {1 / r['seconds_per_ce']:8.1f} "
            f"{ours / r['seconds_per_ce']:13.3f}x {r['validity']:9.3f} {r['peak_mb']:8.0f}"
            f"  {r['device']}"
        )
    ref, opt, bound = (
        results[m]["seconds_per_ce"] for m in ("leapfactual-reference", "opt", BOUND)
    )
    checks = [
        ("ours vs reference-style (target >= 10x)", ref / ours, 10),
        ("ours vs Opt-based (target >= 100x)", opt / ours, 100),
        ("ours vs the decode+classify bound (target >= 0.5)", bound / ours, 0.5),
    ]
    print()
    for name, ratio, goal in checks:
        print(f"{name}: {ratio:.2f}x -> {'met' if ratio >= goal else 'NOT met'}")
    gap = abs(results["leapfactual"]["validity"] - results["leapfactual-reference"]["validity"])
    print(
        f"validity gap ours vs reference-style: {gap * 100:.1f} points "
        f"({'within' if gap <= 0.01 else 'NOT within'} one point)"
    )
    print("\npeak memory of LeapFactual (ours) as the number of images grows:")
    for count in (int(c) for c in args.memory.split(",")):
        r = child("leapfactual", args.run, count, device)
        print(
            f"  {count:6d} images: peak {r['peak_mb']:.0f} MB, of which "
            f"{r['extra_mb']:.0f} MB during explain ({r['seconds_per_ce'] * 1e3:.2f} ms/CE, "
            f"{r['device']})"
        )


if __name__ == "__main__":
    main()
