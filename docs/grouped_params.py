"""Griffe extension for the API reference: parameters documented together become one row each.

The docstrings document related parameters on one line ("lr, weight_decay: Adam, or AdamW
when ..."); griffe's Google parser would make that one row named "lr, weight_decay", shown as
required and without a type. This gives each name its own line with the shared description,
so every row shows its own type and default.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

HEADER = re.compile(r"^(\s*)(Args|Arguments|Parameters|Attributes|Keyword Args):\s*$")
GROUP = re.compile(r"^(\s+)(\w+(?:, \w+)+)( \([^)]*\))?:(.*)$")


def split_groups(text: str) -> str:
    """``text`` with each grouped item of an argument or attribute section split per name
    (continuation lines repeated under each)."""
    lines, out, i, section = text.split("\n"), [], 0, None
    while i < len(lines):
        line = lines[i]
        header = HEADER.match(line)
        if header:
            section = len(header[1])
        elif section is not None and line.strip() and len(line) - len(line.lstrip()) <= section:
            section = None
        group = GROUP.match(line) if section is not None else None
        if group is None:
            out.append(line)
            i += 1
            continue
        indent = len(group[1])
        more = i + 1
        while more < len(lines) and _continues(lines, more, indent):
            more += 1
        rest = lines[i + 1 : more]
        for name in group[2].split(", "):
            out += [f"{group[1]}{name}{group[3] or ''}:{group[4]}", *rest]
        i = more
    return "\n".join(out)


def _continues(lines: list[str], k: int, indent: int) -> bool:
    """Whether line ``k`` belongs to the item above it: indented deeper, or blank and followed
    by a deeper line."""
    line = lines[k] if lines[k].strip() or k + 1 == len(lines) else lines[k + 1]
    return bool(line.strip()) and len(line) - len(line.lstrip()) > indent


class GroupedParameters(griffe.Extension):
    """Split grouped parameters in the docstring of every object as it is loaded."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = split_groups(obj.docstring.value)
