"""One self-contained HTML page per run: every image inlined, no external scripts or fonts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import Tensor

from leapfactual._version import __version__
from leapfactual.explain.explanation import Explanation
from leapfactual.io import atomic_write_text
from leapfactual.report.images import diff_heatmap, png_data_uri

DISPLAY = 96  # displayed size of an image in CSS pixels
STRIP = 56


@dataclass
class Report:
    """What the page shows.

    Attributes:
        title, subtitle: page heading.
        explanation: the per-sample rows; with ``trajectory_images`` the strip of leaps and
            the reconstruction (the trajectory's first image) are shown.
        class_names: names of the classifier's classes.
        summary: ``(key, value)`` rows of the summary table.
        cards: ``(value, label)`` headline numbers.
        grid: optional ``[S, K, C, H, W]`` source x target images from
            :func:`~leapfactual.report.grid.source_target_grid`, with ``grid_sources`` the
            class of each row's input.
        warnings: one-line warnings shown right under the headline numbers (e.g. a codec that
            loses what the classifier looks at, which makes the validity unreliable).
        notes: lines for the footer (e.g. the command that produced the page).
        max_samples: per-sample rows shown.
    """

    title: str
    explanation: Explanation
    class_names: Sequence[str]
    subtitle: str = ""
    summary: list[tuple[str, str]] = field(default_factory=list)
    cards: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    grid: Tensor | None = None
    grid_sources: Sequence[int] = ()
    grid_reliable: bool = False
    notes: list[str] = field(default_factory=list)
    max_samples: int = 12


def render_html(report: Report) -> str:
    """The page as a string."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("leapfactual.report", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    exp = report.explanation
    scale = max(1, DISPLAY // exp.x.shape[-1])
    return env.get_template("report.html.j2").render(
        title=report.title,
        subtitle=report.subtitle,
        cards=[{"value": v, "label": k} for v, k in report.cards],
        summary=report.summary,
        grid=_grid_context(report, scale),
        samples=[_sample(report, i, scale) for i in range(min(len(exp), report.max_samples))],
        size=DISPLAY,
        strip_size=STRIP,
        warnings=report.warnings,
        notes=report.notes,
        version=__version__,
    )


def write_report(report: Report, path: str | Path) -> Path:
    """Render and write the page atomically; return its path."""
    out = Path(path)
    atomic_write_text(out, render_html(report))
    return out


def _name(report: Report, k: int) -> str:
    return str(report.class_names[k]) if k < len(report.class_names) else str(k)


def _sample(report: Report, i: int, scale: int) -> dict[str, Any]:
    exp = report.explanation
    src, tgt = int(exp.source[i]), int(exp.target[i])
    figures = [_fig(exp.x[i], f"input: {_name(report, src)} (p {exp.probs[i, src]:.2f})", scale)]
    if exp.trajectory_images is not None:
        figures.append(_fig(exp.trajectory_images[i, 0], "reconstruction", scale))
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
    strip = []
    if exp.trajectory_images is not None and exp.trajectory_probs is not None:
        blend = exp.config.get("blend", {}).get("steps")
        for k in range(exp.trajectory_images.shape[1]):
            phase = "start" if k == 0 else ("inject " if blend and k > blend else "leap ")
            label = "start" if k == 0 else f"{phase}{k - blend if phase == 'inject ' else k}"
            strip.append(
                _fig(
                    exp.trajectory_images[i, k],
                    f"{label}: {exp.trajectory_probs[i, k, tgt]:.2f}",
                    max(1, STRIP // exp.x.shape[-1]),
                )
            )
    valid_rel = exp.valid_reliable
    return {
        "index": i,
        "source": _name(report, src),
        "target": _name(report, tgt),
        "valid": bool(exp.valid[i]),
        "valid_reliable": None if valid_rel is None else bool(valid_rel[i]),
        "steps": int(exp.steps[i]) if exp.steps is not None else "–",
        "figures": figures,
        "strip": strip,
    }


def _fig(image: Tensor, caption: str, scale: int) -> dict[str, str]:
    return {"src": png_data_uri(image, scale), "caption": caption}


def _grid_context(report: Report, scale: int) -> dict[str, Any] | None:
    if report.grid is None:
        return None
    rows = []
    for r in range(report.grid.shape[0]):
        src = int(report.grid_sources[r]) if r < len(report.grid_sources) else -1
        cells = [
            {
                "src": png_data_uri(report.grid[r, c], scale),
                "self": c == src,
                "alt": f"{_name(report, src)} as {_name(report, c)}",
            }
            for c in range(report.grid.shape[1])
        ]
        rows.append({"label": _name(report, src) if src >= 0 else str(r), "cells": cells})
    columns = [_name(report, k) for k in range(report.grid.shape[1])]
    return {"rows": rows, "columns": columns, "size": 56, "reliable": report.grid_reliable}
