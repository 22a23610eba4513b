"""The one skeleton of every results page: a title, where the numbers come from, then sections.

Every page under ``docs/results/`` starts the same way: its title, a note that a command
wrote it, the command, the data, any further set-up lines, the machine and the total time, and
the code it ran (the git commit).
The experiments only supply those facts and their sections (:func:`write_page`).
"""

from __future__ import annotations

import glob
import platform
import subprocess
from collections.abc import Sequence
from pathlib import Path

import torch

from leapfactual._version import __version__
from leapfactual.io import atomic_write_text

NOTE = "*Written by the command below; do not edit by hand.*"

Section = tuple[str | None, Sequence[str]]
"""A heading (None: no heading) and its Markdown lines."""


def machine() -> str:
    """The machine in words, for results pages."""
    return (
        f"{platform.machine()} {platform.system()}, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}"
    )


def code_version(here: Path = Path(__file__).parent, results: Sequence[Path] = ()) -> str:
    """The code that produced a page: the git commit of the source tree at ``here`` (this
    package's, by default) and whether it had uncommitted changes, or the package version
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


def render_page(
    title: str,
    command: str,
    data: str,
    seconds: float,
    details: Sequence[str] = (),
    sections: Sequence[Section] = (),
    results: Sequence[Path] = (),
) -> str:
    """The Markdown of a results page: the common header (``details``: further set-up
    bullets after the data), then each section; ``results``: see :func:`code_version`."""
    lines = [f"# {title}", "", NOTE, "", f"- Command: `{command}`", f"- Data: {data}"]
    lines += [f"- {detail}" for detail in details]
    lines += [
        f"- Machine: {machine()}; total {seconds / 60:.1f} min.",
        f"- Code: {code_version(results=results)}.",
    ]
    lines += [""]
    for heading, body in sections:
        if heading is not None:
            lines += [f"## {heading}", ""]
        lines += [*body, ""]
    return "\n".join(lines)


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
    """Write :func:`render_page` to ``path`` (atomically, creating its folder); return it.
    Changes to its :func:`page_outputs` do not mark the code as changed."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    own = page_outputs(out)
    atomic_write_text(out, render_page(title, command, data, seconds, details, sections, own))
    return out


__all__ = [
    "NOTE",
    "Section",
    "code_version",
    "machine",
    "page_outputs",
    "render_page",
    "write_page",
]
