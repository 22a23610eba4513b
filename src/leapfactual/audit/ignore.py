"""What a rule teacher without code ignores: ``--ignore-region`` (docs/tutorials/audit.md).

A region is given as a mask image (a PNG of the run's image size; pixels brighter than half
are ignored), a box ``x0,y0,x1,y1`` (pixel columns ``x0 <= x < x1``, rows ``y0 <= y < y1``,
``0,0`` top left) or ``candidate``: every shortcut candidate of the repair's audit that the model
relies on (transplant reliance at least ``RELIANT``), i.e. the pixels that at least
:data:`SHARE` of a cell candidate's donor CEs needed (its most-needed region), and the global
edits of the candidates that are global edits. A candidate the model does not act on is no
shortcut to unteach: reverting it in the teacher's view would only take away a change the CEs
need.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from leapfactual._optional import require
from leapfactual.audit.necessity import Necessity
from leapfactual.audit.teachers import IgnoreTeacher
from leapfactual.audit.transplant import GLOBAL, Finding, ces_of, places
from leapfactual.explain import Explanation

CANDIDATE = "candidate"
SHARE = 0.1
"""A pixel belongs to a cell candidate's region when this share of its donors needed it."""


def parse_region(spec: str, size: tuple[int, int]) -> Tensor | None:
    """The mask ``[H, W]`` (bool) of a mask file or box ``spec`` for images of ``size``
    ``(H, W)``; None for ``candidate`` (known only once the audit is done)."""
    if spec == CANDIDATE:
        return None
    h, w = size
    path = Path(spec)
    if path.suffix.lower() == ".png" or path.exists():
        if not path.is_file():
            raise ValueError(f"--ignore-region {spec}: no such mask file; give a PNG, a box "
                             "x0,y0,x1,y1 or 'candidate'")  # fmt: skip
        pil = require("PIL.Image", "data", "reading a mask image")
        with pil.open(path) as image:
            if image.size != (w, h):
                raise ValueError(
                    f"--ignore-region {spec} is {image.size[0]}x{image.size[1]} pixels, the "
                    f"run's images {w}x{h}; draw the mask at the run's image size"
                )
            grey = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
        mask = torch.from_numpy(grey > 0.5)
        if not bool(mask.any()):
            raise ValueError(f"--ignore-region {spec} marks no pixel (none brighter than half)")
        return mask
    parts = spec.split(",")
    try:
        x0, y0, x1, y1 = (int(p) for p in parts)
    except ValueError:
        raise ValueError(
            f"--ignore-region {spec!r} is no mask file, box or 'candidate'; give a PNG mask, a "
            "box x0,y0,x1,y1 in pixels (0,0 top left, ends excluded) or 'candidate'"
        ) from None
    if not (0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h):
        raise ValueError(
            f"--ignore-region box {spec} is not inside the {w}x{h} images; give "
            f"0 <= x0 < x1 <= {w} and 0 <= y0 < y1 <= {h}"
        )
    mask = torch.zeros(h, w, dtype=torch.bool)
    mask[y0:y1, x0:x1] = True
    return mask


def candidate_parts(
    exp: Explanation, nec: Necessity, findings: list[Finding], grid: int = 4
) -> tuple[Tensor | None, tuple[str, ...]]:
    """The region (None: none) and global edits of every shortcut candidate in ``findings``
    (the repair passes those the model relies on; see the module docstring); a
    ``ValueError`` when there is none."""
    chosen = [f for f in findings if f.candidate]
    if not chosen:
        raise ValueError(
            "--ignore-region candidate: the audit found no shortcut candidate to ignore (none "
            "that the model relies on); give a mask or a box, or another teacher"
        )
    edits = tuple(sorted({e for f in chosen for e in f.edits}))
    named = places(nec, grid)
    top = nec.most_needed() - len(nec.edits) + 1
    mask = torch.zeros(nec.regions.shape[1:], dtype=torch.bool)
    for f in chosen:
        if f.place.startswith(GLOBAL):
            if f.place == GLOBAL:
                mask[:] = True
            continue
        mine = ces_of(exp, f)
        rows = [i for i, p in enumerate(named) if p == f.place and bool(mine[i])]
        regions = nec.regions[rows] == top[rows, None, None]
        mask |= regions.float().mean(0) >= SHARE
    return (mask if bool(mask.any()) else None), edits


TeacherFromAudit = Callable[[Explanation, Necessity, list[Finding]], IgnoreTeacher]
"""Builds a teacher once the repair's audit is done (``--ignore-region candidate``)."""


def ignore_teacher(
    model: Callable[[Tensor], object], spec: str, size: tuple[int, int]
) -> IgnoreTeacher | TeacherFromAudit:
    """The rule teacher of ``--ignore-region spec``: an :class:`IgnoreTeacher` on ``model``,
    or for ``candidate`` a :data:`TeacherFromAudit`."""
    mask = parse_region(spec, size)
    if mask is not None:
        return IgnoreTeacher(model, mask)

    def build(exp: Explanation, nec: Necessity, findings: list[Finding]) -> IgnoreTeacher:
        region, edits = candidate_parts(exp, nec, findings)
        return IgnoreTeacher(model, region, edits)

    return build


__all__ = ["CANDIDATE", "SHARE", "TeacherFromAudit", "candidate_parts", "ignore_teacher",
           "parse_region"]  # fmt: skip
