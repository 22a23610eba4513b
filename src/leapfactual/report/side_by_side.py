"""Several CEs of one input side by side (``diverse=K``), and the page of a regressor's CEs.

:func:`side_by_side` groups an explanation's rows by input (the K rows of ``variant``
0..K-1, or one row each) into the input followed by its CEs (reliable CEs when there are),
each captioned with what the model says of it. The HTML report shows these groups for a
diverse explanation; :func:`render_side_by_side_page` is the whole page for a regressor's
explanation, whose targets are values rather than classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from torch import Tensor

from leapfactual.explain import Explanation
from leapfactual.io import atomic_write_text, png_data_uri

GROUPS = 8
"""Inputs shown side by side."""


def side_by_side(
    exp: Explanation, class_names: Sequence[str] = (), count: int = GROUPS, scale: int = 3
) -> list[dict[str, Any]]:
    """Up to ``count`` groups: ``{"index", "title", "figures": [{"src", "caption", "valid"}]}``
    with the input first, then each CE of that input (its reliable CE when there is one)."""
    k = int(exp.variant.max()) + 1 if exp.variant is not None else 1
    images = exp.x_reliable if exp.x_reliable is not None else exp.x_cf
    probs = exp.probs_reliable if exp.probs_reliable is not None else exp.probs_cf
    valid = exp.reaches(probs)
    out = []
    for start in range(0, min(len(exp), count * k), k):
        figures: list[dict[str, Any]] = [
            {"src": png_data_uri(exp.x[start], scale), "caption": "input", "valid": None}
        ]
        for j in range(start, start + k):
            figures.append(
                {
                    "src": png_data_uri(images[j], scale),
                    "caption": f"CE {j - start + 1}: {_said(exp, probs, j, class_names)}",
                    "valid": bool(valid[j]),
                }
            )
        title = f"#{start}: {_name(exp, exp.source, start, class_names)} → "
        title += _name(exp, exp.target, start, class_names)
        out.append({"index": start, "title": title, "figures": figures})
    return out


def _name(exp: Explanation, values: Tensor, i: int, class_names: Sequence[str]) -> str:
    if exp.tolerance is not None:
        return f"{float(values[i]):.2f}"
    k = int(values[i])
    return str(class_names[k]) if k < len(class_names) else str(k)


def _said(exp: Explanation, probs: Tensor, i: int, class_names: Sequence[str]) -> str:
    if exp.tolerance is not None:
        return f"f = {float(probs[i, 0]):.2f}"
    return f"p({_name(exp, exp.target, i, class_names)}) {float(probs[i, int(exp.target[i])]):.2f}"


def groups_html(groups: list[dict[str, Any]]) -> str:
    """The groups as HTML rows of figures (a valid CE framed green, others red)."""
    rows = []
    for group in groups:
        cells = []
        for fig in group["figures"]:
            mark = "" if fig["valid"] is None else (" ok" if fig["valid"] else " bad")
            cells.append(
                f'<figure class="sbs{mark}"><img src="{fig["src"]}" alt="{escape(fig["caption"])}">'
                f"<figcaption>{escape(fig['caption'])}</figcaption></figure>"
            )
        rows.append(f'<h3>{escape(group["title"])}</h3><div class="row">{"".join(cells)}</div>')
    return "\n".join(rows)


STYLE = (
    "body{font-family:sans-serif;margin:2em;color:#222}.row{display:flex;gap:.6em;"
    "flex-wrap:wrap}figure{margin:0;text-align:center;font-size:.8em;padding:3px;"
    "border:2px solid transparent}figure.sbs.ok{border-color:#2b8a3e}figure.sbs.bad{border-color:"
    "#c92a2a}img{image-rendering:pixelated}"
)


def render_side_by_side_page(
    exp: Explanation, class_names: Sequence[str], title: str, notes: Sequence[str] = ()
) -> str:
    """A self-contained page: validity, then the CEs of the first inputs side by side."""
    valid = float(exp.valid.float().mean())
    lines = [f"<p>{len(exp)} CEs; validity {valid:.3f}"]
    if exp.valid_reliable is not None:
        lines[0] += f", reliable {float(exp.valid_reliable.float().mean()):.3f}"
    if exp.tolerance is not None:
        lines[0] += f" (valid: |f(x') − target| ≤ {exp.tolerance:g})"
    lines[0] += ".</p>"
    lines += [f"<p>{escape(n)}</p>" for n in notes]
    body = groups_html(side_by_side(exp, class_names))
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}'
        f"</title><style>{STYLE}</style></head><body><h1>{escape(title)}</h1>"
        f"{''.join(lines)}<h2>Counterfactuals</h2>{body}</body></html>"
    )


def write_side_by_side_page(
    exp: Explanation,
    class_names: Sequence[str],
    path: str | Path,
    title: str,
    notes: Sequence[str] = (),
) -> Path:
    """Write :func:`render_side_by_side_page` to ``path`` atomically; return it."""
    out = Path(path)
    atomic_write_text(out, render_side_by_side_page(exp, class_names, title, notes))
    return out


__all__ = [
    "GROUPS",
    "groups_html",
    "render_side_by_side_page",
    "side_by_side",
    "write_side_by_side_page",
]
