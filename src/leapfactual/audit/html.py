"""The audit page as one self-contained HTML file, in the report's style.

The audit and repair pages are written as Markdown (:func:`leapfactual.report.write_page`);
:func:`page_html` turns that Markdown, which uses headings, paragraphs, bullet lists, pipe
tables, images, ``**bold**``, ``` `code` ``` and ``[links](...)`` only, into HTML with the
report's colours and fonts, and inlines every image it names (PNG files next to the page) as
a data URI, so the page can be moved or mailed as one file.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from leapfactual.io import atomic_write_text

STYLE = """
:root { --ink: #1d2433; --muted: #5b6578; --line: #e3e7ee; --accent: #3b5bdb; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica,
  Arial, sans-serif; color: var(--ink); background: #f7f8fb; }
main { max-width: 1180px; margin: 0 auto; padding: 28px 24px 60px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 36px 0 10px; padding-bottom: 6px;
  border-bottom: 1px solid var(--line); }
table { border-collapse: collapse; background: #fff; border: 1px solid var(--line);
  font-size: 13px; margin: 6px 0 18px; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: left; }
th { color: var(--muted); font-weight: 600; }
code { background: #eef1f6; padding: 1px 4px; border-radius: 4px; font-size: 13px; }
img { max-width: 100%; background: #fff; border: 1px solid var(--line); border-radius: 6px; }
a { color: var(--accent); }
"""
_BLOCKS = ("#", "|", "- ", "![")
_IMAGE = re.compile(r"^!\[([^\]]*)\]\(([^)]+)\)$")


def _inline(text: str) -> str:
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)
    out = re.sub(r"\*([^*\s][^*]*)\*", r"<em>\1</em>", out)
    return re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", r'<a href="\2">\1</a>', out)


def _image(alt: str, name: str, folder: Path) -> str:
    path = folder / name
    if path.suffix.lower() == ".png" and path.is_file() and path.parent == folder:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f'<p><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"></p>'
    return f"<p>[{html.escape(alt)}: {html.escape(name)} not found]</p>"


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def page_html(markdown: str, folder: Path) -> str:
    """The page's HTML (see the module docstring); images are read from ``folder``."""
    body: list[str] = []
    lines = markdown.splitlines()
    title = "Audit"
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif line.startswith("# "):
            title = line[2:].strip()
            body.append(f"<h1>{_inline(title)}</h1>")
            i += 1
        elif line.startswith("## "):
            body.append(f"<h2>{_inline(line[3:].strip())}</h2>")
            i += 1
        elif line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                if not re.fullmatch(r"\|[\s:|-]*\|", lines[i].strip()):
                    rows.append(_cells(lines[i]))
                i += 1
            head = "".join(f"<th>{_inline(c)}</th>" for c in rows[0])
            rest = "".join(
                "<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>"
                for row in rows[1:]
            )
            body.append(f"<table><tr>{head}</tr>{rest}</table>")
        elif line.startswith("- "):
            items = []
            while i < len(lines) and (lines[i].startswith("- ") or lines[i].startswith("  ")):
                if lines[i].startswith("- "):
                    items.append(lines[i][2:].strip())
                else:
                    items[-1] += " " + lines[i].strip()
                i += 1
            body.append("<ul>" + "".join(f"<li>{_inline(t)}</li>" for t in items) + "</ul>")
        elif (found := _IMAGE.match(line.strip())) is not None:
            body.append(_image(found.group(1), found.group(2), folder))
            i += 1
        else:
            text = []
            while i < len(lines) and lines[i].strip() and not lines[i].startswith(_BLOCKS):
                text.append(lines[i].strip())
                i += 1
            body.append(f"<p>{_inline(' '.join(text))}</p>")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
        "<body>\n<main>\n" + "\n".join(body) + "\n</main>\n</body>\n</html>\n"
    )


def write_page_html(page: Path) -> Path:
    """Write ``page`` (a Markdown page) as ``page.with_suffix('.html')``; return that path."""
    out = page.with_suffix(".html")
    atomic_write_text(out, page_html(page.read_text(encoding="utf-8"), page.parent))
    return out


__all__ = ["STYLE", "page_html", "write_page_html"]
