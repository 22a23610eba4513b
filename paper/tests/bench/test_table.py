import math

import pytest

from paper.bench import Table
from paper.bench.table import format_cell


def test_cells_format_readably() -> None:
    assert format_cell(0.16634) == "0.166"
    assert format_cell((0.166, 0.0041)) == "0.166 ± 0.004"
    assert format_cell((0.166, math.nan)) == "0.166"
    assert format_cell(None) == "–" and format_cell(math.nan) == "–"
    assert format_cell(1234.5) == "1,234" or format_cell(1234.5) == "1,235"
    assert format_cell(0.00012) == "1.2e-04"


def test_markdown_csv_html_have_the_same_rows(tmp_path) -> None:
    table = Table(["A", "B"])
    table.set("accuracy", "A", 0.9)
    table.set("accuracy", "B", 0.8)
    table.set("area", "A", (0.2, 0.01))
    md, csv_path, html = table.write(tmp_path / "t")
    lines = md.read_text().splitlines()
    assert lines[0] == "| | A | B |" and lines[2] == "| accuracy | 0.900 | 0.800 |"
    assert lines[3] == "| area | 0.200 ± 0.010 | – |"
    rows = csv_path.read_text().splitlines()
    assert rows[0] == "metric,A,A sem,B,B sem" and rows[2].startswith("area,0.2,0.01,,")
    assert html.read_text().count("<tr>") == 3
    assert table.mean("area", "A") == 0.2 and math.isnan(table.mean("area", "B"))


def test_a_stored_table_renders_the_same_numbers_again() -> None:
    table = Table(["A", "B |x|"], spread="ci95")
    table.set("validity (|f(x') − t| ≤ tol)", "A", 0.984)
    table.set("validity (|f(x') − t| ≤ tol)", "B |x|", (0.5, 0.01))
    table.set("slant", "A", (math.inf, math.nan))
    table.set("empty", "A", None)
    again = Table.from_csv(table.to_csv())
    assert again.to_markdown() == table.to_markdown() and again.to_csv() == table.to_csv()
    assert again.spread == "ci95" and list(again.rows) == list(table.rows)
    lines = table.to_markdown().splitlines()
    assert lines[0] == "| | A | B \\|x\\| |"  # a pipe in a name is escaped, not a new cell
    assert lines[2] == "| validity (\\|f(x') − t\\| ≤ tol) | 0.984 | 0.500 ± 0.010 |"
    with pytest.raises(ValueError, match=r"not a table written by Table\.to_csv"):
        Table.from_csv("seed,metric,column,value,sem\n0,a,A,1,\n")
