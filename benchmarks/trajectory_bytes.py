"""Bytes per CE of an explanation on disk for each ``--trajectory`` setting.

    python benchmarks/trajectory_bytes.py [--run runs/demo/run] [--limit 50]

Explains the first ``--limit`` held-out images of the run (LeapFactual, default settings,
random other targets, seed 0) once per setting with ``explain_run`` and divides the size of
``explanation.safetensors`` by the number of CEs. The numbers in ``leapfactual explain
--help`` come from this command on the demo run (``leapfactual demo``: 28x28 MNIST).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from leapfactual.pipeline import ExplainSettings, explain_run, load_run

MODES = ("none", "latents", "images")


def bytes_per_ce(run_dir: Path, limit: int) -> dict[str, float]:
    """Size of the saved explanation per CE, by trajectory setting."""
    run = load_run(run_dir)
    sizes = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in MODES:
            out = Path(tmp) / mode
            settings = ExplainSettings(target="random", limit=limit)
            exp = explain_run(run, out, settings=settings, trajectory=mode).explanation
            assert exp is not None
            sizes[mode] = (out / "explanation.safetensors").stat().st_size / len(exp)
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=Path("runs/demo/run"))
    parser.add_argument("--limit", type=int, default=50)
    args = parser.parse_args()
    shape = "x".join(map(str, load_run(args.run).image_shape))
    print(f"run {args.run} ({shape} images), {args.limit} CEs per setting")
    for mode, size in bytes_per_ce(args.run, args.limit).items():
        print(f"--trajectory {mode:<8} {size / 1000:8.1f} KB per CE")


if __name__ == "__main__":
    main()
