"""Griffe extension for the API reference: Sphinx roles in docstrings become code.

The docstrings name other objects as ``:class:`Explainer``` or ``:func:`~pkg.mod.name```
(Sphinx style), which Markdown would show as written; this turns each into ``Explainer`` /
``name`` set as code (a leading ``~`` keeps only the last part, as Sphinx does).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:class|func|meth|attr|mod|data|exc|obj):`(~?)([^`]+)`")


def plain(text: str) -> str:
    """``text`` with every Sphinx role replaced by its target as inline code."""
    return ROLE.sub(lambda m: f"`{m[2].rsplit('.', 1)[-1] if m[1] else m[2]}`", text)


class SphinxRoles(griffe.Extension):
    """Rewrite the docstring of every object as it is loaded."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = plain(obj.docstring.value)
