"""docs/crossrefs.py: mentions of docs pages in text become links, nowhere else."""

from __future__ import annotations

import runpy
from pathlib import Path

HOOK = runpy.run_path(str(Path(__file__).resolve().parents[2] / "docs" / "crossrefs.py"))


def href_of(path: str, section: str | None) -> str | None:
    if path == "missing.md":
        return None
    return f"../{path[:-3]}/" + (f"#s{section}" if section else "")


def test_text_mentions_become_links_with_their_section() -> None:
    html = "<p>See docs/method.md §6.2 and docs/scaling.md.</p>"
    assert HOOK["link_mentions"](html, href_of) == (
        '<p>See <a href="../method/#s6.2">docs/method.md §6.2</a> and '
        '<a href="../scaling/">docs/scaling.md</a>.</p>'
    )


def test_code_links_and_unknown_pages_are_left_as_written() -> None:
    html = (
        "<p><code>docs/method.md §3</code> <a href='x'>docs/method.md</a> "
        "<pre><span>docs/scaling.md</span></pre> docs/missing.md</p>"
    )
    assert HOOK["link_mentions"](html, href_of) == html


def test_section_anchors_follow_the_toc_slugs() -> None:
    text = "# Title\n## 3. CE-CFM: a flow\n### 6.2 Morpho-MNIST\n## Citation\n"
    assert HOOK["section_anchors"](text) == {"3": "3-ce-cfm-a-flow", "6.2": "62-morpho-mnist"}
