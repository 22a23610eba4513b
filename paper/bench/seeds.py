"""One benchmark repeated over seeds: every cell as a mean with a 95 % interval over the seeds,
and differences between columns that count the seeds they hold in.

The interval is Student's t over the per-seed values (n - 1 degrees of freedom); none for one
seed. Two columns *tie* on a row when the 95 % t interval of their paired per-seed difference
includes 0, or when their means are equal at three decimals (the only test one seed allows).
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from scipy.stats import t as student_t

from leapfactual.io import atomic_write_text
from paper.bench.table import Table, format_cell

LEVEL = 0.95
SHOWN = 5e-4
"""Means closer than this are equal at three decimals: a tie even without an interval."""
ROUNDING = 1e-12
"""A mean difference smaller than this is floating-point noise and is shown as 0."""


def t_interval(values: Sequence[float]) -> tuple[float, float]:
    """Mean and half-width of the two-sided 95 % Student-t interval for the mean of
    ``values``; the half-width is NaN for fewer than two values or any infinite one (the mean
    then infinite), everything NaN if any value is."""
    if not values or any(math.isnan(v) for v in values):
        return math.nan, math.nan
    if not all(math.isfinite(v) for v in values):
        return sum(values) / len(values), math.nan
    mean = math.fsum(values) / len(values)
    if len(values) < 2:
        return mean, math.nan
    scale = statistics.stdev(values) / math.sqrt(len(values))
    return mean, float(student_t.ppf((1 + LEVEL) / 2, len(values) - 1)) * scale


MOST_SEEDS = 10_000
"""Beyond this many seeds :func:`seeds_needed` gives up (the difference is as good as 0)."""


def seeds_needed(values: Sequence[float]) -> int | None:
    """The smallest number of seeds n >= 2 at which a paired difference with the mean and
    standard deviation of ``values`` would have a 95 % Student-t interval that excludes 0;
    None for fewer than two values, a mean of 0, or more than :data:`MOST_SEEDS`."""
    if len(values) < 2 or not all(math.isfinite(v) for v in values):
        return None
    mean, spread = math.fsum(values) / len(values), statistics.stdev(values)
    if abs(mean) < ROUNDING:
        return None
    if spread == 0:
        return 2

    def excludes(n: int) -> bool:  # the half-width falls as n grows: bisect
        return float(student_t.ppf((1 + LEVEL) / 2, n - 1)) * spread / math.sqrt(n) < abs(mean)

    if not excludes(MOST_SEEDS):
        return None
    low, high = 1, MOST_SEEDS  # excludes(high); not excludes(low) (no interval at one seed)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if excludes(middle) else (middle, high)
    return high


def over_seeds(values: Sequence[float]) -> str:
    """``0.973 ± 0.002``: the mean of ``values`` ± the half-width of its 95 % interval."""
    return format_cell(t_interval(values))


def joined(names: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def seed_directory(root: str | Path, seed: int) -> Path:
    """The run directory of ``seed`` in a benchmark's ``root``: ``root/seed-S``."""
    return Path(root) / f"seed-{seed}"


@dataclass(frozen=True)
class Difference:
    """Column ``a`` minus column ``b`` on one row, seed by seed; ``higher``: larger is better."""

    a: str
    b: str
    values: tuple[float, ...]
    higher: bool = True

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def wins(self) -> int:
        """Seeds in which ``a`` is better than ``b``."""
        return sum(1 for v in self.values if (v > 0 if self.higher else v < 0))

    @property
    def tie(self) -> bool:
        """The paired 95 % interval includes 0, or the means are equal at three decimals."""
        mean, half = t_interval(self.values)
        return abs(mean) < SHOWN or (not math.isnan(half) and abs(mean) <= half)

    @property
    def better(self) -> bool:
        """``a`` is better than ``b`` and it is no tie."""
        mean, _ = t_interval(self.values)
        return not self.tie and (mean > 0 if self.higher else mean < 0)

    @property
    def worse(self) -> bool:
        return not self.tie and not self.better

    @property
    def seeds_needed(self) -> int | None:
        """Seeds a difference of the observed mean and spread would need before its 95 % t
        interval excludes 0 (the observed size assumed to hold); None when the mean is 0 or
        more than :data:`MOST_SEEDS` would be needed, or with fewer than two seeds."""
        return seeds_needed(self.values)

    def evidence(self, better: str = "higher") -> str:
        """``higher in 2 of 3 seeds, difference +0.004 ± 0.011: a tie`` (or ``: the interval
        excludes 0``; one seed has no interval)."""
        mean, half = t_interval(self.values)
        mean = 0.0 if abs(mean) < ROUNDING else mean
        sign = "+" if mean >= 0 else "−"
        size = format_cell(abs(mean))
        if not math.isnan(half):
            size += f" ± {format_cell(half)}"
        verdict = ": a tie" if self.tie else "" if math.isnan(half) else ": the interval excludes 0"
        seeds = "seed" if self.n == 1 else "seeds"
        return f"{better} in {self.wins} of {self.n} {seeds}, difference {sign}{size}{verdict}"


@dataclass
class SeedTables:
    """The table of one benchmark at each seed (same columns and rows)."""

    seeds: tuple[int, ...]
    tables: list[Table]

    def __post_init__(self) -> None:
        if not self.tables or len(self.tables) != len(self.seeds):
            raise ValueError(f"one table per seed, got {len(self.tables)} for {self.seeds}")

    @property
    def columns(self) -> list[str]:
        return list(self.tables[0].columns)

    @property
    def rows(self) -> list[str]:
        return list(self.tables[0].rows)

    def values(self, row: str, column: str) -> tuple[float, ...]:
        """The cell's value (its mean, for mean ± SEM cells) at each seed."""
        return tuple(t.mean(row, column) for t in self.tables)

    def mean(self, row: str, column: str) -> float:
        return t_interval(self.values(row, column))[0]

    def cell(self, row: str, column: str) -> str:
        """``0.968 ± 0.010`` (mean ± half-width of the 95 % interval), ``0.968`` for one seed."""
        return over_seeds(self.values(row, column))

    def diff(self, row: str, a: str, b: str, higher: bool = True) -> Difference:
        """Column ``a`` against ``b`` on ``row``, paired by seed."""
        pairs = zip(self.values(row, a), self.values(row, b), strict=True)
        return Difference(a, b, tuple(x - y for x, y in pairs), higher)

    def best(self, row: str, columns: Sequence[str], higher: bool = True) -> list[str]:
        """The column of ``columns`` with the best mean on ``row``, then those tied with it."""
        means = {c: self.mean(row, c) for c in columns}
        top = max(means, key=lambda c: means[c]) if higher else min(means, key=lambda c: means[c])
        return [top] + [c for c in columns if c != top and self.diff(row, c, top, higher).tie]

    def firsts(self, row: str, column: str, columns: Sequence[str], higher: bool = True) -> int:
        """Seeds in which ``column`` is best of ``columns`` on ``row`` (equal counts as best)."""
        pick = max if higher else min
        return sum(
            1 for t in self.tables if t.mean(row, column) == pick(t.mean(row, c) for c in columns)
        )

    def summary(self) -> Table:
        """Every cell as (mean, half-width of the 95 % interval) over the seeds."""
        table = Table(self.columns, spread="ci95")
        for row in self.rows:
            for column in self.columns:
                if any(t.get(row, column) is not None for t in self.tables):
                    table.set(row, column, t_interval(self.values(row, column)))
        return table

    def to_csv(self) -> str:
        """Every table, long: seed, metric, column, value, sem (when the cell has one)."""
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["seed", "metric", "column", "value", "sem"])
        for seed, table in zip(self.seeds, self.tables, strict=True):
            for row, cells in table.rows.items():
                for column in table.columns:
                    cell = cells.get(column)
                    if cell is None:
                        continue
                    value, sem = cell if isinstance(cell, tuple) else (cell, None)
                    writer.writerow(
                        [seed, row, column, repr(value), "" if sem is None else repr(sem)]
                    )
        return buf.getvalue()

    def write(self, stem: str | Path, title: str, intro: str) -> list[Path]:
        """``STEM.csv`` and ``STEM.html`` (the summary) and ``STEM-seeds.csv`` (every seed)."""
        paths = self.summary().write(stem, title, intro, formats=("csv", "html"))
        per_seed = seeds_csv(stem)
        atomic_write_text(per_seed, self.to_csv())
        return [*paths, per_seed]

    def method_note(self) -> str:
        """What a cell and a verdict mean on a page, for this number of seeds."""
        n = len(self.seeds)
        if n == 1:
            return (
                f"One seed ({self.seeds[0]}): each cell is that seed's value; a difference is "
                "called a tie only when the two values are equal at three decimals."
            )
        return (
            f"{n} seeds ({', '.join(map(str, self.seeds))}), each a full repeat: models and "
            "targets drawn with that seed. Each cell is the mean over seeds ± the half-width "
            f"of its 95 % Student-t interval (n − 1 = {n - 1} degrees of freedom). A verdict "
            "counts the seeds it holds in, and calls two columns tied when the 95 % t "
            "interval of their paired per-seed difference includes 0."
        )


def seeds_csv(stem: str | Path) -> Path:
    """Where :meth:`SeedTables.write` puts the per-seed values of ``stem``."""
    stem = Path(stem)
    return stem.with_name(f"{stem.name}-seeds.csv")


__all__ = [
    "LEVEL",
    "MOST_SEEDS",
    "Difference",
    "SeedTables",
    "joined",
    "over_seeds",
    "seed_directory",
    "seeds_csv",
    "seeds_needed",
    "t_interval",
]
