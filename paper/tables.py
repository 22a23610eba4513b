"""Markdown tables for the results pages: the column a reader looks a row up by first, the
headline columns next, the details after; every cell kept to one cell."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def escape_cell(text: str) -> str:
    """``text`` as one Markdown table cell: a ``|`` escaped (else it splits the cell and
    shifts the rest of the row), line breaks made spaces."""
    return " ".join(text.replace("|", "\\|").splitlines())


def table_line(cells: Sequence[str]) -> str:
    """One row of a Markdown table, each cell escaped (an empty cell as ``| |``)."""
    return "|" + "|".join(f" {escape_cell(c)} " if c else " " for c in cells) + "|"


def markdown_table(rows: Sequence[Mapping[str, str]], lead: Sequence[str] = ()) -> list[str]:
    """The lines of a Markdown table of ``rows`` (each: column name to cell text, all with
    the same columns): the rows' first column (the one a reader looks a row up by) first,
    then the columns named in ``lead`` (the headline) in that order, then the others in
    the rows' order."""
    if not rows:
        raise ValueError("a table needs at least one row")
    names = list(rows[0])
    unknown = [c for c in lead if c not in names]
    if unknown:
        raise ValueError(f"lead names columns the rows lack: {unknown}; the columns: {names}")
    for row in rows:
        if list(row) != names:
            raise ValueError(f"every row needs the columns {names}, in order; one has {list(row)}")
    order = [names[0], *(c for c in lead if c != names[0])]
    order += [c for c in names if c not in order]
    return [
        table_line(order),
        "|" + "---|" * len(order),
        *(table_line([row[c] for c in order]) for row in rows),
    ]
