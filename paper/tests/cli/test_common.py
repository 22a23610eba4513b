"""The paper's commands share one seed parser and record themselves as ``python -m paper``."""

import pytest

from paper.cli.common import command_line, names, parse_seeds
from paper.experiments.morphomnist import MorphoBenchConfig


def test_seeds_are_distinct_whole_numbers() -> None:
    assert parse_seeds("0, 1,2") == (0, 1, 2)
    for bad in ("0,one", "1,1", "", " , "):
        with pytest.raises(ValueError, match="--seeds takes comma-separated whole numbers"):
            parse_seeds(bad)
    with pytest.raises(ValueError, match=r"give one or more distinct seeds >= 0, got \(1, 1\)"):
        MorphoBenchConfig(seeds=(1, 1))


def test_names_and_the_command_line(monkeypatch) -> None:
    assert names("a, b,,c ") == ("a", "b", "c")
    monkeypatch.setattr("sys.argv", ["paper", "bench", "--out", "a b"])
    assert command_line() == "python -m paper bench --out 'a b'"


def test_a_bad_seed_list_is_one_line_with_exit_2(cli) -> None:
    done = cli("bench", "--seeds", "0,one")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == (
        "error: --seeds takes comma-separated whole numbers without repeats, such as 0,1,2; "
        "got '0,one'"
    )
