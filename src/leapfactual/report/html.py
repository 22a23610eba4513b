"""One self-contained HTML page per run: every image inlined, no external scripts or fonts.

Sections (stable element ids): ``summary``, ``matrix``, ``failures``, ``curves``,
``attributions`` (when attribute probes were given), ``grid`` (when a source x target grid
was made), ``samples`` and ``browse`` (every CE up to a cap, filtered and sorted by a small
inline script; without scripts the same list is simply static).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from markupsafe import Markup, escape
from torch import Tensor

from leapfactual._optional import require
from leapfactual._version import __version__
from leapfactual.explain import Explanation
from leapfactual.io import atomic_write_text, png_data_uri
from leapfactual.metrics import l1_distance
from leapfactual.report.images import (
    colour_change,
    diff_heatmap,
    gif_data_uri,
    thumbnail_data_uri,
)
from leapfactual.report.sections import Curves, validity_matrix
from leapfactual.report.side_by_side import groups_html, side_by_side
from leapfactual.report.svg import curve_svg

DISPLAY = 96  # displayed size of an image in CSS pixels
STRIP = 56
THUMB = 32
SHOWN = 12
"""Cards shown when the report does not say which."""
FAILURES_LISTED = 60


@dataclass
class Report:
    """What the page shows.

    Attributes:
        title, subtitle: page heading.
        explanation: the CEs; with a trajectory (images kept, or ``strips``) each card shows
            the reconstruction, the leap strip and an animation of the path.
        class_names: names of the classifier's classes.
        summary: ``(key, value)`` rows of the summary table, in the order given.
        cards: ``(value, label)`` headline numbers.
        warnings: one-line warnings shown right under the headline numbers (e.g. a codec that
            loses what the classifier looks at, which makes the validity unreliable).
        verdict: the run's verdict in one line, shown first, above the headline numbers (""
            for CEs made outside a run).
        grid: optional ``[S, K, C, H, W]`` source x target images from
            :func:`~leapfactual.report.grid.source_target_grid`; ``grid_labels`` the class
            of each row's input (its true label when known), ``grid_predicted`` the model's
            class of it (marked where the two differ).
        notes: lines for the footer (e.g. the command that produced the page); text between
            backticks is shown as code.
        shown: indices of the CEs shown as cards (None: the first 12); ``shown_note`` says
            how they were chosen.
        strips: trajectory images ``[T + 1, C, H, W]`` of shown CEs whose explanation keeps
            only latents (decoded by :func:`~leapfactual.report.build.build_report`).
        curves: per-leap curves (None: no trajectory).
        oracle_valid: ``[B]`` whether an independent oracle puts each CE in its target.
        attributions: global attribute attributions by name (None: no probes).
        browse_cap: at most this many CEs in the browsable list (a note says how many more).
        thumb_size: height in pixels of the input-and-CE thumbnails of the failures and the
            list of all CEs (small images are enlarged pixelated).
    """

    title: str
    explanation: Explanation
    class_names: Sequence[str]
    subtitle: str = ""
    summary: list[tuple[str, str]] = field(default_factory=list)
    cards: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    verdict: str = ""
    grid: Tensor | None = None
    grid_labels: Sequence[int] = ()
    grid_predicted: Sequence[int] = ()
    grid_reliable: bool = False
    notes: list[str] = field(default_factory=list)
    shown: Sequence[int] | None = None
    shown_note: str = ""
    strips: dict[int, Tensor] = field(default_factory=dict)
    curves: Curves | None = None
    oracle_valid: Tensor | None = None
    attributions: dict[str, float] | None = None
    browse_cap: int = 500
    thumb_size: int = THUMB


def render_html(report: Report) -> str:
    """The page as a string."""
    jinja2 = require("jinja2", "plots", "the HTML report")

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("leapfactual.report", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    exp = report.explanation
    scale = max(1, DISPLAY // exp.x.shape[-1])
    shown = list(report.shown) if report.shown is not None else list(range(min(len(exp), SHOWN)))
    names = input_names(exp)
    return env.get_template("report.html.j2").render(
        title=report.title,
        subtitle=report.subtitle,
        cards=[{"value": v, "label": k} for v, k in report.cards],
        summary=report.summary,
        matrices=_matrices(report),
        failures=_failures(report, names),
        curves=_curves(report.curves),
        attributions=sorted((report.attributions or {}).items(), key=lambda kv: -abs(kv[1])),
        grid=_grid_context(report, scale),
        samples=[_sample(report, i, scale, names) for i in shown],
        side_by_side=Markup(groups_html(side_by_side(exp, report.class_names)))
        if exp.variant is not None
        else None,
        shown_note=report.shown_note or f"{len(shown)} of {len(exp)} CEs.",
        browse=_browse(report, names),
        classes=[_name(report, k) for k in range(exp.probs.shape[1])],
        size=DISPLAY,
        strip_size=STRIP,
        thumb_size=report.thumb_size,
        warnings=report.warnings,
        verdict=report.verdict,
        notes=[_inline_code(n) for n in report.notes],
        version=__version__,
    )


def write_report(report: Report, path: str | Path) -> Path:
    """Render and write the page atomically; return its path."""
    out = Path(path)
    atomic_write_text(out, render_html(report))
    return out


def input_names(exp: Explanation) -> list[str]:
    """The file name of each CE's input when the explanation records one (own images)."""
    inputs = exp.config.get("inputs")
    if isinstance(inputs, list) and len(inputs) == len(exp):
        return [Path(str(n)).name for n in inputs]
    return []


def _name(report: Report, k: int) -> str:
    return str(report.class_names[k]) if k < len(report.class_names) else str(k)


def _inline_code(note: str) -> Markup:
    parts = re.split(r"`([^`]*)`", note)
    return Markup("").join(
        Markup("<code>{}</code>").format(p) if i % 2 else escape(p) for i, p in enumerate(parts)
    )


def _matrices(report: Report) -> list[dict[str, Any]]:
    exp = report.explanation
    k = exp.probs.shape[1]
    tables = [("CE validity (the classifier says target)", exp.valid)]
    if exp.valid_reliable is not None:
        tables.append(("reliable CE validity", exp.valid_reliable))
    if report.oracle_valid is not None:
        tables.append(
            ("oracle validity (an independent classifier says target)", report.oracle_valid)
        )
    out = []
    for caption, valid in tables:
        m = validity_matrix(exp, valid)
        rows = []
        for s in range(k):
            if not m.total[s].any():
                continue
            cells = []
            for t in range(k):
                n, v = int(m.total[s, t]), int(m.valid[s, t])
                share = v / n if n else None
                colour = f"hsl({120 * share:.0f}, 65%, 82%)" if share is not None else "#f1f3f6"
                cells.append({"n": n, "v": v, "share": share, "colour": colour})
            rows.append({"label": _name(report, s), "cells": cells})
        out.append({"caption": caption, "rows": rows, "valid": int(valid.sum()), "n": len(exp)})
    return out


def _failures(report: Report, names: list[str]) -> dict[str, Any]:
    exp = report.explanation
    failed = (~exp.valid.cpu()).nonzero()[:, 0].tolist()
    rows = []
    for i in failed[:FAILURES_LISTED]:
        src, tgt = int(exp.source[i]), int(exp.target[i])
        rows.append(
            {
                "index": i,
                "source": _name(report, src),
                "target": _name(report, tgt),
                "p": f"{float(exp.probs_cf[i, tgt]):.2f}",
                "got": _name(report, int(exp.probs_cf[i].argmax())),
                "name": names[i] if names else "",
                "thumb": _pair_thumb(exp, i, report.thumb_size),
            }
        )
    return {"rows": rows, "total": len(failed), "hidden": max(0, len(failed) - FAILURES_LISTED)}


def check_thumb_size(size: int) -> int:
    """``size`` when it is a whole number of pixels from 8 to 512, else a ``ValueError``."""
    if isinstance(size, bool) or not isinstance(size, int) or not 8 <= size <= 512:
        raise ValueError(
            f"thumbnail size must be a whole number of pixels from 8 to 512, got {size!r}"
        )
    return size


def _pair_thumb(exp: Explanation, i: int, size: int) -> str:
    """Input and CE side by side, at most ``size`` pixels high."""
    return thumbnail_data_uri(
        torch.stack([exp.x[i].cpu().float(), exp.x_cf[i].cpu().float()]), size
    )


def _curves(curves: Curves | None) -> list[Markup]:
    if curves is None:
        return []
    return [Markup(curve_svg(c, curves.blend_steps)) for c in curves.curves]


def _browse(report: Report, names: list[str]) -> dict[str, Any]:
    exp = report.explanation
    n = min(len(exp), report.browse_cap)
    distance = l1_distance(exp.x_cf[:n].cpu().float(), exp.x[:n].cpu().float())
    items = []
    for i in range(n):
        src, tgt = int(exp.source[i]), int(exp.target[i])
        items.append(
            {
                "index": i,
                "source": src,
                "target": tgt,
                "valid": bool(exp.valid[i]),
                "cost": int(exp.steps[i]) if exp.steps is not None else 0,
                "distance": f"{float(distance[i]):.4f}",
                "caption": f"{_name(report, src)} → {_name(report, tgt)}",
                "name": names[i] if names else "",
                "thumb": _pair_thumb(exp, i, report.thumb_size),
            }
        )
    return {"items": items, "total": len(exp), "hidden": len(exp) - n}


def _sample(report: Report, i: int, scale: int, names: list[str]) -> dict[str, Any]:
    exp = report.explanation
    src, tgt = int(exp.source[i]), int(exp.target[i])
    figures = [_fig(exp.x[i], f"input: {_name(report, src)} (p {exp.probs[i, src]:.2f})", scale)]
    path = exp.trajectory_images[i] if exp.trajectory_images is not None else report.strips.get(i)
    if path is not None:
        figures.append(_fig(path[0], "reconstruction", scale))
    figures.append(
        _fig(exp.x_cf[i], f"CE: p({_name(report, tgt)}) {exp.probs_cf[i, tgt]:.2f}", scale)
    )
    if exp.x_reliable is not None and exp.probs_reliable is not None:
        figures.append(
            _fig(exp.x_reliable[i], f"reliable CE: p {exp.probs_reliable[i, tgt]:.2f}", scale)
        )
    figures.append(_fig(diff_heatmap(exp.x[i], exp.x_cf[i]), "CE − input", scale))
    if exp.x_reliable is not None:
        figures.append(_fig(diff_heatmap(exp.x[i], exp.x_reliable[i]), "reliable − input", scale))
    if exp.x.shape[1] == 3:  # brightness alone hides a change of hue
        figures.append(_fig(colour_change(exp.x[i], exp.x_cf[i]), "colour change", scale))
    strip = []
    animation = None
    if path is not None and exp.trajectory_probs is not None:
        blend = exp.config.get("blend", {}).get("steps")
        for k in range(path.shape[0]):
            phase = "start" if k == 0 else ("inject " if blend and k > blend else "leap ")
            label = "start" if k == 0 else f"{phase}{k - blend if phase == 'inject ' else k}"
            strip.append(
                _fig(
                    path[k],
                    f"{label}: {exp.trajectory_probs[i, k, tgt]:.2f}",
                    max(1, STRIP // exp.x.shape[-1]),
                )
            )
        animation = {"src": gif_data_uri(path, scale), "caption": "the path, animated"}
    valid_rel = exp.valid_reliable
    oracle = report.oracle_valid
    return {
        "index": i,
        "source": _name(report, src),
        "target": _name(report, tgt),
        "name": names[i] if names else "",
        "valid": bool(exp.valid[i]),
        "valid_reliable": None if valid_rel is None else bool(valid_rel[i]),
        "valid_oracle": None if oracle is None else bool(oracle[i]),
        "steps": int(exp.steps[i]) if exp.steps is not None else "–",
        "figures": figures,
        "animation": animation,
        "strip": strip,
    }


def _fig(image: Tensor, caption: str, scale: int) -> dict[str, str]:
    return {"src": png_data_uri(image, scale), "caption": caption}


def _grid_context(report: Report, scale: int) -> dict[str, Any] | None:
    if report.grid is None:
        return None
    rows = []
    for r in range(report.grid.shape[0]):
        label = int(report.grid_labels[r]) if r < len(report.grid_labels) else -1
        said = int(report.grid_predicted[r]) if r < len(report.grid_predicted) else label
        cells = [
            {
                "src": png_data_uri(report.grid[r, c], scale),
                "self": c == label,
                "disagree": c == label and said != label,
                "alt": f"{_name(report, label)} as {_name(report, c)}",
            }
            for c in range(report.grid.shape[1])
        ]
        text = _name(report, label) if label >= 0 else str(r)
        if said != label:
            text += f" (model: {_name(report, said)})"
        rows.append({"label": text, "cells": cells, "disagree": said != label})
    columns = [_name(report, k) for k in range(report.grid.shape[1])]
    return {"rows": rows, "columns": columns, "size": 56, "reliable": report.grid_reliable}
