import math

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
