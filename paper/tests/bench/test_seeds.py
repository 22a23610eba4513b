import math

import pytest

from paper.bench import Table
from paper.bench.seeds import Difference, SeedTables, joined, seeds_csv, t_interval


def seeded(values: dict[str, list[float]], row: str = "accuracy") -> SeedTables:
    """One table per seed with one row; ``values[column][k]``: the cell at seed k."""
    n = len(next(iter(values.values())))
    tables = []
    for k in range(n):
        table = Table(list(values))
        for column, cells in values.items():
            table.set(row, column, cells[k])
        tables.append(table)
    return SeedTables(tuple(range(n)), tables)


def test_the_interval_is_student_t_over_seeds() -> None:
    mean, half = t_interval([1.0, 2.0, 3.0])
    # sd 1, n 3: t(0.975, 2) = 4.302653 times 1 / sqrt(3)
    assert mean == 2.0 and half == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    mean, half = t_interval([0.5, 0.7])
    assert mean == pytest.approx(0.6) and half == pytest.approx(12.706205 * 0.1, rel=1e-6)
    assert t_interval([0.4, 0.4, 0.4]) == (pytest.approx(0.4), 0.0)
    mean, half = t_interval([0.9])
    assert mean == 0.9 and math.isnan(half)
    assert all(math.isnan(v) for v in t_interval([0.9, math.nan]))
    mean, half = t_interval([math.inf, 1.0])
    assert mean == math.inf and math.isnan(half)


def test_a_difference_counts_seeds_and_calls_overlaps_ties() -> None:
    clear = Difference("A", "B", (0.02, 0.03, 0.04))
    assert clear.wins == 3 and clear.better and not clear.tie
    assert clear.evidence() == (
        "higher in 3 of 3 seeds, difference +0.030 ± 0.025: the interval excludes 0"
    )
    noisy = Difference("A", "C", (0.05, -0.04, 0.01))
    assert noisy.wins == 2 and noisy.tie and not noisy.better and not noisy.worse
    assert noisy.evidence().startswith("higher in 2 of 3 seeds, difference +0.007 ± ")
    assert noisy.evidence().endswith(": a tie")
    lower = Difference("A", "B", (0.02, 0.03, 0.04), higher=False)
    assert lower.wins == 0 and lower.worse
    one = Difference("A", "B", (0.2,))
    assert one.better and one.evidence() == "higher in 1 of 1 seed, difference +0.200"
    assert Difference("A", "B", (0.0002,)).tie  # equal at three decimals: a tie with one seed
    noise = Difference("A", "B", (0.1 + 0.2 - 0.3, -0.01, 0.01))
    assert "difference +0.000 ± " in noise.evidence()


def test_tables_summarise_cells_and_pick_the_best_with_its_ties(tmp_path) -> None:
    runs = seeded({"A": [0.9, 0.92, 0.94], "B": [0.91, 0.91, 0.95], "C": [0.5, 0.6, 0.55]})
    assert runs.cell("accuracy", "A") == "0.920 ± 0.050"
    assert runs.best("accuracy", ["A", "B", "C"]) == ["B", "A"]  # B's mean is higher, A ties
    assert runs.firsts("accuracy", "B", ["A", "B", "C"]) == 2
    assert runs.diff("accuracy", "A", "C").better
    summary = runs.summary()
    assert summary.spread == "ci95" and summary.mean("accuracy", "C") == pytest.approx(0.55)
    paths = runs.write(tmp_path / "page", "T", "intro")
    assert [p.name for p in paths] == ["page.csv", "page.html", "page-seeds.csv"]
    assert paths[0].read_text().splitlines()[0] == "metric,A,A ci95,B,B ci95,C,C ci95"
    rows = paths[2].read_text().splitlines()
    assert rows[0] == "seed,metric,column,value,sem" and rows[1] == "0,accuracy,A,0.9,"
    assert len(rows) == 1 + 9 and seeds_csv(tmp_path / "page") == paths[2]
    assert "3 seeds (0, 1, 2)" in runs.method_note() and "2 degrees" in runs.method_note()
    assert seeded({"A": [0.9]}).method_note().startswith("One seed (0)")


def test_a_sem_cell_keeps_its_sem_in_the_per_seed_file() -> None:
    table = Table(["A"])
    table.set("area", "A", (0.2, 0.01))
    runs = SeedTables((7,), [table])
    assert runs.to_csv().splitlines()[1] == "7,area,A,0.2,0.01"
    assert runs.cell("area", "A") == "0.200"  # one seed: no interval
    with pytest.raises(ValueError, match="one table per seed"):
        SeedTables((1, 2), [table])


def test_names_are_joined_in_prose() -> None:
    assert joined(["a"]) == "a" and joined(["a", "b"]) == "a and b"
    assert joined(["a", "b", "c"]) == "a, b and c"


def test_seeds_needed_is_where_the_t_interval_first_excludes_zero() -> None:
    from paper.bench.seeds import MOST_SEEDS, seeds_needed

    values = (0.01, -0.004, 0.012)  # mean 0.006, sd 0.0087: a tie at 3 seeds
    n = seeds_needed(values)
    assert n is not None and n > 3
    mean, sd = sum(values) / 3, (sum((v - 0.006) ** 2 for v in values) / 2) ** 0.5
    from scipy.stats import t

    def half(k: int) -> float:
        return float(t.ppf(0.975, k - 1)) * sd / math.sqrt(k)

    assert half(n) < abs(mean) <= half(n - 1)  # the first n, not any n
    assert Difference("A", "B", values).seeds_needed == n
    assert seeds_needed((0.02, 0.03, 0.04)) == 3  # separated already at 3 seeds
    assert seeds_needed((0.1, 0.1)) == 2  # no spread
    assert seeds_needed((0.01, -0.01)) is None  # a mean of 0: no number of seeds
    assert seeds_needed((1e-6, -1.0, 1.0)) is None  # beyond MOST_SEEDS
    assert MOST_SEEDS == 10_000
    assert seeds_needed((0.5,)) is None and seeds_needed((0.1, math.nan)) is None
