"""Peak memory of a sharded explain and of its merge, for two versions of the code.

    git archive HEAD src | tar -x -C /tmp/before    # the code to compare with
    OMP_NUM_THREADS=1 nice python benchmarks/explain_memory.py --before /tmp/before/src

For each number of CEs (``--ces``, multiples of the run's 1,000 test digits, repeated with
``--repeat``) and each code (``--before``: a ``src`` folder, e.g. ``git archive HEAD src``;
after: this checkout's ``src``), one after the other in this one script:

* ``explain``: ``leapfactual explain RUN --images test --limit 0 --repeat R --shard-size
  4096`` with the cheapest leap settings (``--blend-steps 1 --inject-steps 0 --solver euler
  --solver-steps 1``: memory does not depend on the number of leaps), shards then merge;
* ``merge``: ``merge_shards(OUT)`` alone, in a fresh process, on that job's shards.

Each runs under ``/usr/bin/time -f "%e %M"`` (wall seconds, peak RSS in KB, printed as MB =
KB / 1000). The run (``--run``) is fitted first if missing: mnist5k, 1 epoch per stage. The
printed table names the command, the machine and its load average before each size.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1] / "src"
LEAPS = ["--blend-steps", "1", "--inject-steps", "0", "--solver", "euler", "--solver-steps", "1"]
MERGE = "import sys; from leapfactual.pipeline import shards; shards.merge_shards(sys.argv[1])"
HEAD = ("CEs", "load avg", "before: explain + merge", "now: explain + merge",
        "before: merge alone", "now: merge alone", "merged file")  # fmt: skip


def timed(command: list[str], src: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of ``command`` run with ``src`` on ``PYTHONPATH``."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        env = {**os.environ, "PYTHONPATH": str(src)}
        done = subprocess.run(
            ["/usr/bin/time", "-f", "%e %M", "-o", report.name, *command],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        if done.returncode:
            raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
        wall, kb = report.read().split()[-2:]
    return float(wall), int(kb) / 1000


def measure(run: Path, work: Path, src: Path, repeat: int) -> dict[str, float]:
    """Explain (sharded, then merged) and merge alone with the code in ``src``."""
    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    explain = [sys.executable, "-m", "leapfactual", "explain", str(run), "--out", str(out)]
    explain += ["--images", "test", "--limit", "0", "--repeat", str(repeat)]
    explain += ["--shard-size", "4096", *LEAPS]
    wall, peak = timed(explain, src)
    merge_wall, merge_peak = timed([sys.executable, "-c", MERGE, str(out)], src)
    size = (out / "explanation.safetensors").stat().st_size / 2**20
    shutil.rmtree(out)
    return {"wall": wall, "peak": peak, "merge_wall": merge_wall, "merge_peak": merge_peak,
            "mib": size}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="src folder of the old code")
    scratch = Path(tempfile.gettempdir()) / "leapfactual-memory"
    parser.add_argument("--run", type=Path, default=scratch / "run")
    parser.add_argument("--work", type=Path, default=scratch / "work")
    parser.add_argument("--ces", default="2000,20000,100000", help="comma-separated CE counts")
    args = parser.parse_args()
    if not (args.run / "run.json").is_file():
        fit = [sys.executable, "-m", "leapfactual", "fit", "--out", str(args.run)]
        fit += ["--vae-epochs", "1", "--classifier-epochs", "1", "--flow-epochs", "1"]
        subprocess.run(fit, env={**os.environ, "PYTHONPATH": str(HERE)}, check=True)
    args.work.mkdir(parents=True, exist_ok=True)
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, OMP_NUM_THREADS={threads}"
    )
    print(
        f"explain: leapfactual explain {args.run} --images test --limit 0 --repeat R "
        f"--shard-size 4096 {' '.join(LEAPS)}"
    )
    print("merge: merge_shards(OUT) alone in a fresh process; peak RSS = /usr/bin/time %M / 1000")
    print()
    print("| " + " | ".join(HEAD) + " |")
    print("|" + "---|" * len(HEAD))
    for ces in (int(c) for c in args.ces.split(",")):
        load = os.getloadavg()[0]
        old = measure(args.run, args.work, args.before.resolve(), ces // 1000)
        new = measure(args.run, args.work, HERE, ces // 1000)
        print(
            f"| {ces:,} | {load:.1f} | {old['wall']:.1f} s, {old['peak']:.0f} MB | "
            f"{new['wall']:.1f} s, {new['peak']:.0f} MB | {old['merge_wall']:.1f} s, "
            f"{old['merge_peak']:.0f} MB | {new['merge_wall']:.1f} s, {new['merge_peak']:.0f} MB "
            f"| {new['mib']:.0f} MiB |",
            flush=True,
        )


if __name__ == "__main__":
    main()
