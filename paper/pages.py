"""The paper's results pages: the library's page skeleton, stamped with the git commit of the
code that produced them (the library itself never runs git)."""

from __future__ import annotations

import glob
import subprocess
from collections.abc import Sequence
from pathlib import Path

from leapfactual import __version__
from leapfactual.io import atomic_write_text
from leapfactual.report import Section
from leapfactual.report import write_page as write_library_page

HERE = Path(__file__).resolve().parent


def code_version(here: Path = HERE, results: Sequence[Path] = ()) -> str:
    """The code that produced a page: the git commit of the source tree at ``here`` (this
    repository's, by default) and whether it had uncommitted changes, or the library version
    outside a git checkout. Changes to ``results`` (the page and its figures, written before
    it) are output, not code, and do not count."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=here, capture_output=True, text=True, timeout=30, check=True
        )
        return done.stdout

    try:
        commit = git("rev-parse", "--short", "HEAD").strip()
        top = Path(git("rev-parse", "--show-toplevel").strip())
        changed = git("status", "--porcelain", "--untracked-files=no", "-z").split("\0")
    except (OSError, subprocess.SubprocessError):
        return f"leapfactual {__version__} (not a git checkout)"
    output = {Path(p).resolve() for p in results}
    dirty = any(line and (top / line[3:]).resolve() not in output for line in changed)
    return f"commit {commit}" + (" with uncommitted changes" if dirty else "")


def page_outputs(page: Path) -> list[Path]:
    """The page and the files next to it that share its stem (its figures, ``STEM.png``)."""
    return [page, *(p for p in page.parent.glob(f"{glob.escape(page.stem)}.*") if p != page)]


def write_page(
    path: str | Path,
    title: str,
    command: str,
    data: str,
    seconds: float,
    details: Sequence[str] = (),
    sections: Sequence[Section] = (),
) -> Path:
    """The library's page, its code line the git commit; changes to the page's own
    :func:`page_outputs` do not mark the code as changed."""
    code = code_version(results=page_outputs(Path(path)))
    return write_library_page(path, title, command, data, seconds, details, sections, code)


def rerender_table(page: str | Path) -> bool:
    """Re-render, in place, the table of ``page`` that the run stored as ``STEM.csv`` (a
    :class:`~paper.bench.Table`: the same numbers, in the current layout, no recomputation);
    True when the page changed. The page must hold a table with the stored columns."""
    from paper.bench import Table

    page = Path(page)
    stored = page.with_suffix(".csv")
    if not stored.is_file():
        raise FileNotFoundError(
            f"{stored} not found: only a page whose run stored its table (STEM.csv) re-renders"
        )
    table = Table.from_csv(stored.read_text(encoding="utf-8"))
    fresh = table.to_markdown().splitlines()
    lines = page.read_text(encoding="utf-8").splitlines()
    if fresh[0] not in lines:
        raise ValueError(
            f"{page} has no table with the columns of {stored.name}; regenerate it with the "
            "command on the page"
        )
    start = lines.index(fresh[0])
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    new = [*lines[:start], *fresh, *lines[end:]]
    if new == lines:
        return False
    atomic_write_text(page, "\n".join(new) + "\n")
    return True
