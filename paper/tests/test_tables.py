"""The results pages' tables: the lookup column first, the headline next, every cell one cell."""

import markdown
import pytest

from paper.tables import escape_cell, markdown_table, table_line

ROWS = [
    {"run": "demo", "what": "defaults", "fit (s)": "85", "verdict": "trusted", "validity": "0.96"},
    {
        "run": "small",
        "what": "300 images",
        "fit (s)": "5",
        "verdict": "untrusted",
        "validity": "0.2",
    },
]


def cells(lines: list[str]) -> list[list[str]]:
    """What a Markdown renderer (the site's) makes of the table: the text of each row's cells."""
    html = markdown.markdown("\n".join(lines), extensions=["tables"])
    rows = html.split("<tr>")[1:]
    return [
        [c.split(">", 1)[1].split("</t", 1)[0] for c in row.split("<t")[1:] if c[:1] in "dh"]
        for row in rows
    ]


def test_the_lookup_column_comes_first_then_the_headline_then_the_rest() -> None:
    lines = markdown_table(ROWS, lead=["verdict", "validity"])
    assert lines[0] == "| run | verdict | validity | what | fit (s) |"
    assert lines[1] == "|---|---|---|---|---|"
    assert lines[2] == "| demo | trusted | 0.96 | defaults | 85 |"
    assert markdown_table(ROWS)[0] == "| run | what | fit (s) | verdict | validity |"  # as given
    assert markdown_table(ROWS, lead=["run", "validity"])[0].startswith("| run | validity |")


def test_a_pipe_or_line_break_stays_inside_its_cell() -> None:
    assert escape_cell("|f(x') − t| ≤ tol") == "\\|f(x') − t\\| ≤ tol"
    assert escape_cell("two\nlines") == "two lines"
    rows = [{"metric": "validity (|f(x') − t| ≤ tol)", "A": "0.984", "B": "1.000"}]
    assert cells(markdown_table(rows)) == [
        ["metric", "A", "B"],
        ["validity (|f(x') − t| ≤ tol)", "0.984", "1.000"],
    ]
    unescaped = [
        "| metric | A | B |",
        "|---|---|---|",
        "| validity (|f(x') − t| ≤ tol) | 0.984 | 1.000 |",
    ]
    assert cells(unescaped)[1][1] != "0.984"  # what the escape prevents: numbers shifted
    assert table_line(["", "A"]) == "| | A |"


def test_a_bad_table_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one row"):
        markdown_table([])
    with pytest.raises(ValueError, match=r"lead names columns the rows lack: \['oracle'\]"):
        markdown_table(ROWS, lead=["oracle"])
    with pytest.raises(ValueError, match="every row needs the columns"):
        markdown_table([ROWS[0], {"run": "x"}])
