"""The documentation site builds in strict mode, and strict mode fails on a broken link or
API reference (so CI does)."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("mkdocs", reason="the docs extra (in dev) builds the site")
pytest.importorskip("mkdocstrings_handlers.python")


def build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",  # never with -q: quiet mode does not count the warnings
            "-f",
            str(config),
            "-d",
            str(site),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )


def test_the_site_builds_strictly(tmp_path) -> None:
    done = build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert done.returncode == 0, done.stderr[-3000:]
    api = (tmp_path / "site" / "reference" / "explain" / "index.html").read_text()
    assert 'id="leapfactual.explain.LeapFactual"' in api  # rendered from the docstrings
    assert ":class:" not in api and ":func:" not in api  # docs/sphinx_roles.py rewrote them
    own = (tmp_path / "site" / "tutorials" / "own-model" / "index.html").read_text()
    assert (  # docs/crossrefs.py: a mention in the text is a link to the page and section
        '<a href="../../method/#3-ce-cfm-a-flow-conditioned-on-the-classifier">'
        "docs/method.md §3</a>"
    ) in own
    method = (tmp_path / "site" / "method" / "index.html").read_text()
    assert 'id="3-ce-cfm-a-flow-conditioned-on-the-classifier"' in method  # the anchor exists
    assert '">docs/method.md §7</a>' in api  # docstrings too
    training = (tmp_path / "site" / "reference" / "training" / "index.html").read_text()
    assert "<code>lr, weight_decay</code>" not in training  # docs/grouped_params.py split it
    assert "<code>weight_decay</code>" in training
    notebook = (tmp_path / "site" / "notebooks" / "demo" / "index.html").read_text()
    assert "explain_the_demo" in notebook  # docs/notebooks rendered by mkdocs-jupyter
    changelog = (tmp_path / "site" / "changelog" / "index.html").read_text()
    assert "Unreleased" in changelog or "0.1.0" in changelog  # CHANGELOG.md, included
    regression = (tmp_path / "site" / "results" / "regression" / "index.html").read_text()
    assert 'href="../../stylesheets/tables.css"' in regression  # wide tables scroll sideways
    css = (tmp_path / "site" / "stylesheets" / "tables.css").read_text()
    assert "td:first-child" in css and "position: sticky" in css  # first column in view
    rows = table_rows(regression)
    assert rows[1][:2] == ["validity (|f(x') − t| ≤ tol)", "0.984"]  # a "|" stays in its cell
    assert rows[1][-1] == "0.548" and rows[2][:2] == ["|f(x') − t|", "0.143"]  # nothing shifted


def table_rows(page: str) -> list[list[str]]:
    """The cells' text of each row of the first table of a built page."""
    table = page.split("<table>", 1)[1].split("</table>", 1)[0]
    return [
        [
            html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in table.split("<tr>")[1:]
    ]


@pytest.mark.parametrize(
    ("page", "named"),
    [
        ("See [the method](no-such-page.md).\n", "no-such-page.md"),
        ("See [a name][leapfactual.NoSuchName].\n", "leapfactual.NoSuchName"),
        ("::: leapfactual.no_such_module\n", "leapfactual.no_such_module"),
    ],
)
def test_a_broken_link_or_reference_fails_the_build(tmp_path, page, named) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text(f"# Home\n\n{page}", encoding="utf-8")
    for hook in (
        "sphinx_roles.py",
        "grouped_params.py",
        "crossrefs.py",
    ):  # as configured, relative to the config
        (docs / hook).symlink_to(ROOT / "docs" / hook)
    config = tmp_path / "mkdocs.yml"
    config.write_text(
        f"INHERIT: {ROOT / 'mkdocs.yml'}\ndocs_dir: {docs}\nnav:\n  - Home: index.md\n",
        encoding="utf-8",
    )
    done = build(config, tmp_path / "site")
    assert done.returncode != 0
    assert named in done.stderr
    assert "Traceback" not in done.stderr  # failed on the page, not on the set-up
