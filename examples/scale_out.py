"""A sharded explain job from Python: streamed to disk, resumable (docs/tutorials/scale-out.md).

    python examples/scale_out.py --out work/scale      # a few minutes on a 2-core CPU
    python examples/scale_out.py --out work/scale --quick

The same job runs on several processes or GPUs under ``torchrun`` without a change (the
tutorial's command lines); here it runs in one process.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import leapfactual as lf
from leapfactual.pipeline import override
from leapfactual.testing import QUICK  # tiny settings: the code path in seconds


def explain_in_shards(out: Path, quick: bool = False) -> None:
    """Explain every training digit in shards, then run the same job again: it resumes."""
    config = lf.FitSettings(data="mnist5k")
    if quick:
        config = override(config, QUICK)
    run = lf.fit_run(out / "run", config, progress=True)
    job = lf.ExplainSettings(limit=48 if quick else 0, target="random", batch_size=256)
    shard_size = 16 if quick else 1024
    where = out / "explained"
    result = lf.explain_run(run, where, images="train", settings=job, shard_size=shard_size)
    assert result.shards is not None
    print(f"computed shards {result.shards.computed} of {result.shards.total}")
    if result.stored is not None:  # rank 0, once the shards are merged (read on demand)
        merged = result.stored
        print(f"merged: {len(merged)} CEs, validity {merged.valid.float().mean():.2f}")
    again = lf.explain_run(run, where, images="train", settings=job, shard_size=shard_size)
    assert again.shards is not None  # an interrupted job would finish here
    print(f"again: skipped {len(again.shards.skipped)} shards, computed {again.shards.computed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("work/scale"))
    parser.add_argument("--quick", action="store_true", help="tiny epochs (for the tests)")
    args = parser.parse_args()
    explain_in_shards(args.out, args.quick)


if __name__ == "__main__":
    main()
