"""Start-up cost of the command line: CPU and wall time of answers that need no torch.

    python benchmarks/startup.py [--repeats 7]

(``make bench``). Each round runs, one after another in fresh processes: ``python -c pass``
(the interpreter's floor), a bare typer app answering a bad flag (typer 0.29 as it comes: its
help flag has no default, and converting that missing value imports pydantic; the
``leapfactual`` app gives the flag a ``False`` default and skips it), ``leapfactual
--version``, and ``leapfactual fit`` with a misspelt flag. CPU time is the child's user +
system time (``RUSAGE_CHILDREN``), which other work on a shared machine barely changes; wall
time is printed beside it. The library's bytecode is compiled first (as installing a wheel
does), so that no row pays for compiling its source, which a checkout run with
``PYTHONDONTWRITEBYTECODE`` set would do on every start. Times are the median over rounds with
the range; the target is under 0.3 s of CPU for ``--version`` and for a bad flag.
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_CPU = 0.3
TYPER_FLOOR = (
    "import typer\n"
    "app = typer.Typer()\n"
    "@app.command()\n"
    "def main(count: int = 0) -> None:\n"
    "    pass\n"
    "app()\n"
)


def console() -> list[str]:
    """The installed ``leapfactual`` script beside this interpreter, else ``-m leapfactual``."""
    script = Path(sys.executable).parent / "leapfactual"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "leapfactual"]


def commands() -> dict[str, list[str]]:
    """What each row runs."""
    return {
        "python -c pass (floor)": [sys.executable, "-c", "pass"],
        "bare typer app, bad flag (imports pydantic)": [sys.executable, "-c", TYPER_FLOOR, "--x"],
        "leapfactual --version": [*console(), "--version"],
        "leapfactual fit --out run --bogus (bad flag)": [
            *console(),
            "fit",
            "--out",
            "r",
            "--bogus",
        ],
    }


def timed(command: list[str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one run of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, capture_output=True, check=False, env={**os.environ, "NO_COLOR": "1"})
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7, help="rounds of every command")
    args = parser.parse_args()
    import leapfactual

    compileall.compile_dir(Path(leapfactual.__file__).parent, quiet=1)
    rows = commands()
    cpu: dict[str, list[float]] = {name: [] for name in rows}
    wall: dict[str, list[float]] = {name: [] for name in rows}
    load = os.getloadavg()[0]
    for _ in range(args.repeats):  # rounds: every command once, so load changes hit them alike
        for name, command in rows.items():
            c, w = timed(command)
            cpu[name].append(c)
            wall[name].append(w)

    def cell(values: list[float]) -> str:
        return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"

    print(
        f"start-up, {args.repeats} rounds, load average {load:.1f} on {os.cpu_count()} cores "
        "(median, range):"
    )
    print("| command | CPU s | wall s |\n|---|---|---|")
    for name in rows:
        print(f"| {name} | {cell(cpu[name])} | {cell(wall[name])} |")
    for name in list(rows)[2:]:
        median = statistics.median(cpu[name])
        met = "met" if median < TARGET_CPU else "NOT met"
        print(f"- {name}: {median:.3f} s CPU (target < {TARGET_CPU} s: {met})")


if __name__ == "__main__":
    main()
