"""A results table (rows = metrics, columns = methods) written as Markdown, CSV and HTML."""

from __future__ import annotations

import csv
import html
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

from leapfactual.io import atomic_write_text
from paper.tables import markdown_table, table_line

Cell = float | tuple[float, float] | None


def format_cell(cell: Cell, digits: int = 3) -> str:
    """``0.166``, ``0.166 ± 0.004`` (mean ± spread: SEM or interval half-width), or an en
    dash when missing."""
    if cell is None:
        return "–"
    if isinstance(cell, tuple):
        mean, sem = cell
        if math.isnan(sem):
            return format_cell(mean, digits)
        return f"{format_cell(mean, digits)} ± {format_cell(sem, digits)}"
    if math.isnan(cell):
        return "–"
    if math.isinf(cell):
        return "∞"
    magnitude = abs(cell)
    if magnitude >= 100:
        return f"{cell:,.0f}"
    if magnitude >= 10:
        return f"{cell:.1f}"
    if 0 < magnitude < 10**-digits:
        return f"{cell:.1e}"
    return f"{cell:.{digits}f}"


@dataclass
class Table:
    """Rows of named cells, one value per column; row order is insertion order.

    ``spread``: what the second number of a (mean, spread) cell is, for the CSV header
    (``sem``; ``ci95`` for the half-width of a 95 % interval over seeds)."""

    columns: list[str]
    rows: dict[str, dict[str, Cell]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    spread: str = "sem"

    def set(self, row: str, column: str, value: Cell) -> None:
        self.rows.setdefault(row, {})[column] = value

    def get(self, row: str, column: str) -> Cell:
        return self.rows.get(row, {}).get(column)

    def mean(self, row: str, column: str) -> float:
        """The value (or mean of a mean ± spread cell) as a float; NaN when missing."""
        cell = self.get(row, column)
        if cell is None:
            return math.nan
        return cell[0] if isinstance(cell, tuple) else cell

    def to_markdown(self) -> str:
        """Rows = metrics (the name a reader looks a row up by, first), columns = methods."""
        rows = [
            {"": name, **{c: format_cell(cells.get(c)) for c in self.columns}}
            for name, cells in self.rows.items()
        ]
        if not rows:
            return table_line(["", *self.columns]) + "\n|---|" + "---|" * len(self.columns) + "\n"
        return "\n".join(markdown_table(rows)) + "\n"

    @classmethod
    def from_csv(cls, text: str) -> Table:
        """The table :meth:`to_csv` wrote (a stored run's numbers, re-rendered without
        recomputing them); notes are not stored."""
        head, *body = list(csv.reader(io.StringIO(text)))
        if len(head) < 3 or head[0] != "metric" or len(head) % 2 == 0:
            raise ValueError(f"not a table written by Table.to_csv: header {head[:3]}...")
        columns = head[1::2]
        spread = head[2][len(columns[0]) + 1 :]
        if any(s != f"{c} {spread}" for c, s in zip(columns, head[2::2], strict=True)):
            raise ValueError(f"not a table written by Table.to_csv: header {head}")
        table = cls(columns, spread=spread)
        for name, *values in body:
            table.rows[name] = {}
            for c, mean, sem in zip(columns, values[::2], values[1::2], strict=True):
                if mean == "":
                    continue
                table.set(name, c, float(mean) if sem == "" else (float(mean), float(sem)))
        return table

    def to_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf)
        spread = f" {self.spread}"
        writer.writerow(["metric", *[f"{c}{s}" for c in self.columns for s in ("", spread)]])
        for name, cells in self.rows.items():
            out: list[str] = [name]
            for c in self.columns:
                cell = cells.get(c)
                mean, sem = cell if isinstance(cell, tuple) else (cell, None)
                out += ["" if mean is None else repr(mean), "" if sem is None else repr(sem)]
            writer.writerow(out)
        return buf.getvalue()

    def to_html(self, title: str = "Benchmark", intro: str = "") -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            f"<tr><td>{html.escape(name)}</td>"
            + "".join(f"<td>{html.escape(format_cell(cells.get(c)))}</td>" for c in self.columns)
            + "</tr>"
            for name, cells in self.rows.items()
        )
        notes = "".join(
            f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in self.notes.items()
        )
        return (
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>"
            "body{font:15px/1.5 system-ui,sans-serif;max-width:1100px;margin:24px auto;"
            "color:#1d2433}table{border-collapse:collapse}td,th{padding:6px 12px;"
            "border-bottom:1px solid #e3e7ee;text-align:right}td:first-child{text-align:left;"
            "color:#5b6578}th{background:#f3f5f9}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><p>{html.escape(intro)}</p>"
            f"<table><tr><th></th>{head}</tr>{body}</table><ul>{notes}</ul></body></html>"
        )

    def write(
        self,
        stem: str | Path,
        title: str = "Benchmark",
        intro: str = "",
        formats: tuple[str, ...] = ("md", "csv", "html"),
    ) -> list[Path]:
        """Write ``stem.md``, ``stem.csv`` and / or ``stem.html``; return the paths."""
        render = {
            "md": self.to_markdown,
            "csv": self.to_csv,
            "html": lambda: self.to_html(title, intro),
        }
        paths = []
        for fmt in formats:
            path = Path(stem).with_suffix(f".{fmt}")
            atomic_write_text(path, render[fmt]())
            paths.append(path)
        return paths
