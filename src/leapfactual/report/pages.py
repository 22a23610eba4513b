"""The one skeleton of every Markdown page a command writes: a title, where the numbers come
from, then sections.

Every page starts the same way: its title, a note that a command wrote it, the command, the
data, any further set-up lines, the machine and the total time, and the code it ran (by
default this package's version; a caller that knows better, such as the paper's experiments
with their git commit, passes ``code``). Callers supply those facts and their sections
(:func:`write_page`).
"""

from __future__ import annotations

import platform
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


def render_page(
    title: str,
    command: str,
    data: str,
    seconds: float,
    details: Sequence[str] = (),
    sections: Sequence[Section] = (),
    code: str | None = None,
) -> str:
    """The Markdown of a page: the common header (``details``: further set-up bullets after
    the data; ``code``: what ran, default ``leapfactual VERSION``), then each section."""
    lines = [f"# {title}", "", NOTE, "", f"- Command: `{command}`", f"- Data: {data}"]
    lines += [f"- {detail}" for detail in details]
    lines += [
        f"- Machine: {machine()}; total {seconds / 60:.1f} min.",
        f"- Code: {code or f'leapfactual {__version__}'}.",
    ]
    lines += [""]
    for heading, body in sections:
        if heading is not None:
            lines += [f"## {heading}", ""]
        lines += [*body, ""]
    return "\n".join(lines)


def write_page(
    path: str | Path,
    title: str,
    command: str,
    data: str,
    seconds: float,
    details: Sequence[str] = (),
    sections: Sequence[Section] = (),
    code: str | None = None,
) -> Path:
    """Write :func:`render_page` to ``path`` (atomically, creating its folder); return it."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, render_page(title, command, data, seconds, details, sections, code))
    return out


__all__ = [
    "NOTE",
    "Section",
    "machine",
    "render_page",
    "write_page",
]
