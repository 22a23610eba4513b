"""MkDocs hook: "docs/PAGE.md" mentioned in a page's text (and "docs/method.md §N") becomes a
link to that page (and to that section), also in the API reference rendered from docstrings.

Text inside links, code, scripts and styles is left as written; a mention of a file that is
not part of the site stays plain text.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from markdown.extensions.toc import slugify

MENTION = re.compile(r"docs/((?:[\w-]+/)*[\w-]+\.md)(?: §(\d+(?:\.\d+)?))?")
NUMBERED = re.compile(r"^#{2,4} ((\d+(?:\.\d+)?)\.? .*)$", re.M)
SKIP = {"a", "code", "pre", "script", "style", "kbd"}
TAG = re.compile(r"(<[^>]+>)")
NAME = re.compile(r"^</?\s*([a-zA-Z0-9]+)")

_sections: dict[str, dict[str, str]] = {}


def section_anchors(markdown: str) -> dict[str, str]:
    """Section number -> the anchor the toc extension gives its heading ("3" -> "3-ce-cfm-...")."""
    return {m[2]: slugify(m[1], "-") for m in NUMBERED.finditer(markdown)}


def link_mentions(html: str, href_of: Any) -> str:
    """``html`` with each mention in its text turned into ``<a href=...>``; ``href_of(path,
    section)`` gives the link, or None to leave the mention as text."""
    out, skipping = [], 0
    for part in TAG.split(html):
        if part.startswith("<"):
            name = NAME.match(part)
            if name and name[1].lower() in SKIP and not part.endswith("/>"):
                skipping += -1 if part.startswith("</") else 1
                skipping = max(skipping, 0)
            out.append(part)
        elif skipping:
            out.append(part)
        else:

            def link(m: re.Match[str]) -> str:
                href = href_of(m[1], m[2])
                return m[0] if href is None else f'<a href="{href}">{m[0]}</a>'

            out.append(MENTION.sub(link, part))
    return "".join(out)


def on_pre_build(config: Any) -> None:
    _sections.clear()  # a page edited under `mkdocs serve` gets its anchors read again


def on_page_content(html: str, page: Any, config: Any, files: Any) -> str:
    def href_of(path: str, section: str | None) -> str | None:
        target = files.get_file_from_path(path)
        if target is None or not target.is_documentation_page():
            return None
        href = target.url_relative_to(page.file)
        if section is None:
            return href
        if path not in _sections:
            source = Path(config["docs_dir"]) / path
            _sections[path] = section_anchors(source.read_text(encoding="utf-8"))
        anchor = _sections[path].get(section)
        return href if anchor is None else f"{href}#{anchor}"

    return link_mentions(html, href_of)
