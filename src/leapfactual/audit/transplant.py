"""Shortcut candidates of an audit and reliance on each, by transplant (docs/method.md §10).

Every valid CE's *most-needed part* (:meth:`~leapfactual.audit.necessity.Necessity.most_needed`)
gets a place: ``global: EDIT`` for a global edit, ``global`` for a region covering at least
:data:`GLOBAL_AREA` of the image (no cell would describe it), else the cell ``rRcC`` of a
``grid`` x ``grid`` partition that holds most of the region. :func:`places` names them and
:func:`class_findings` counts, per class and direction, the place named most often.

A *candidate* is a place that CEs toward class ``k`` need in at least :data:`CONCENTRATED` of
them and that is not the object itself: a cell where the inputs are mostly empty, or a global
edit. *Transplant reliance* asks whether a model (the audited one, a repaired one, a teacher)
acts on it: the candidate's change is copied from the CEs that needed it (the donors) into
images of other classes, recipient ``i`` taking donor ``i mod D``: a region's pixels of the
change added, or a global edit's coefficients applied to the recipient
(:func:`~leapfactual.audit.edits.edit_parts`), kept within the data's range. Reliance is the
share of the recipients a model does not put in ``k`` that it puts in ``k`` once the change is
in: "paint the patch on other digits", for any candidate and any model, without knowing the
true confound.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor

from leapfactual.audit.edits import edit_parts
from leapfactual.audit.necessity import Necessity
from leapfactual.audit.regions import grid_cells
from leapfactual.explain import Explanation

CONCENTRATED = 0.4
"""A place that is the most-needed part of at least this share of a class's CEs is listed
first on the audit page; toward a class and off the objects, it is a shortcut candidate."""
EMPTY = 0.1
"""A cell is outside the objects where the median input has less than this share of the
inkiest cell's mean intensity."""
GLOBAL_AREA = 0.5
"""A region covering at least this share of the image is called ``global``, not a cell."""
RELIANT = 0.2
"""A candidate whose transplant moves at least this share of other images to its class is one
the model relies on."""
GLOBAL = "global"


def places(nec: Necessity, grid: int = 4) -> list[str]:
    """The place of each CE's most-needed part (see the module docstring; ``""`` for a CE
    without parts)."""
    top = nec.most_needed()
    g = len(nec.edits)
    cells = grid_cells(nec.regions.shape[1], nec.regions.shape[2], grid).flatten()
    area = nec.regions.shape[1] * nec.regions.shape[2]
    out = []
    for i, t in enumerate(top.tolist()):
        if t < 0:
            out.append("")
        elif t < g:
            out.append(f"{GLOBAL}: {nec.edits[t]}")
        else:
            region = (nec.regions[i] == t - g + 1).flatten()
            if int(region.sum()) >= GLOBAL_AREA * area:
                out.append(GLOBAL)
            else:
                best = int(torch.bincount(cells[region], minlength=grid * grid).argmax())
                out.append(f"r{best // grid}c{best % grid}")
    return out


def empty_cells(x: Tensor, grid: int = 4) -> set[str]:
    """The cells ``rRcC`` where the median of images ``x`` has less than :data:`EMPTY` of the
    inkiest cell's mean intensity."""
    where = grid_cells(x.shape[-2], x.shape[-1], grid).flatten()
    per_image = torch.zeros(len(x), grid * grid).index_add_(
        1, where, x.detach().float().cpu().mean(1).flatten(1)
    ) / torch.bincount(where, minlength=grid * grid)
    ink = per_image.median(dim=0).values
    return {f"r{c // grid}c{c % grid}" for c in range(grid * grid) if ink[c] < EMPTY * ink.max()}


@dataclass(frozen=True)
class Finding:
    """Where the most-needed change of the valid CEs toward (or from) one class sits most
    often: ``place`` (a cell ``rRcC``, ``global`` or ``global: EDIT``), its ``share`` of the
    ``ces`` counted, and whether it is off the objects (``outside``: an empty cell or a
    global edit)."""

    klass: int
    name: str
    direction: str
    place: str
    share: float
    ces: int
    outside: bool

    @property
    def candidate(self) -> bool:
        """A shortcut candidate: toward the class, concentrated and off the objects."""
        return self.direction == "toward" and self.share >= CONCENTRATED and self.outside

    @property
    def label(self) -> str:
        """``cell r0c0``, ``global`` or ``global: brightness``: how pages name the place."""
        return self.place if self.place.startswith(GLOBAL) else f"cell {self.place}"

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["class"] = out.pop("klass")
        return {**out, "label": self.label, "candidate": self.candidate}


def class_findings(
    exp: Explanation, nec: Necessity, class_names: Sequence[str], grid: int = 4
) -> list[Finding]:
    """Per class and direction (CEs ``toward`` it, CEs ``from`` it) with valid CEs: the place
    named most often (ties: the first in sorted order), sorted by share."""
    named = places(nec, grid)
    empty = empty_cells(exp.x, grid)
    valid = exp.valid.cpu()
    out = []
    for k, name in enumerate(class_names):
        for direction, classes in (("toward", exp.target), ("from", exp.source)):
            rows = [i for i in (valid & (classes.cpu() == k)).nonzero().flatten().tolist()
                    if named[i]]  # fmt: skip
            if not rows:
                continue
            counts: dict[str, int] = {}
            for i in rows:
                counts[named[i]] = counts.get(named[i], 0) + 1
            place = min(counts, key=lambda p: (-counts[p], p))
            outside = place.startswith(f"{GLOBAL}:") or place in empty
            out.append(
                Finding(k, name, direction, place, counts[place] / len(rows), len(rows), outside)
            )
    return sorted(out, key=lambda f: (-f.share, f.klass, f.direction))


@dataclass
class Donors:
    """What a transplant copies for one candidate, per donor CE: the change inside its region
    (``changes [D, C, H, W]``) or, for a global edit, its coefficients (``params [D, P]``)."""

    target: int
    edit: str | None
    changes: Tensor | None = None
    params: Tensor | None = None

    def __len__(self) -> int:
        held = self.changes if self.changes is not None else self.params
        assert held is not None
        return len(held)


def donors(exp: Explanation, nec: Necessity, finding: Finding, grid: int = 4) -> Donors:
    """The valid CEs toward ``finding``'s class whose most-needed part is its place."""
    named = places(nec, grid)
    rows = [i for i, p in enumerate(named) if p == finding.place and bool(exp.valid[i])
            and int(exp.target[i]) == finding.klass]  # fmt: skip
    if not rows:
        raise ValueError(f"no valid CE toward class {finding.klass} needs {finding.label}")
    idx = torch.tensor(rows)
    if finding.place.startswith(f"{GLOBAL}:"):
        edit = finding.place.split(": ", 1)[1]
        return Donors(finding.klass, edit, params=nec.edit_params[idx])
    top = nec.most_needed()[idx] - len(nec.edits) + 1
    mask = (nec.regions[idx] == top[:, None, None]).unsqueeze(1)
    x, x_cf = exp.x.detach().cpu()[idx], exp.x_cf.detach().cpu()[idx]
    rest = x_cf - x - nec.parts(x, idx).sum(dim=1)
    return Donors(finding.klass, None, changes=torch.where(mask, rest, torch.zeros_like(rest)))


def transplant(d: Donors, images: Tensor, bounds: tuple[float, float]) -> Tensor:
    """``images`` with donor ``i mod D``'s change copied into image ``i``, clamped to
    ``bounds`` (the data's range)."""
    x = images.detach().cpu()
    pick = torch.arange(len(x)) % len(d)
    if d.edit is None:
        assert d.changes is not None
        moved = x + d.changes[pick].to(x.dtype)
    else:
        assert d.params is not None
        moved = x + edit_parts(x, d.params[pick], (d.edit,))[:, 0]
    return moved.clamp(*bounds)


Labeller = Callable[[Tensor, Tensor], Tensor]
"""Class labels ``[N]`` of images ``shown [N, C, H, W]`` made from inputs ``x`` (same shape),
called ``label(x, shown)``: a model's argmax of ``shown``, a teacher's answer on the pair."""


def reliance(label: Labeller, images: Tensor, moved: Tensor, target: int) -> tuple[float, int]:
    """The share of ``images`` that ``label`` does not put in ``target`` which it puts there
    once ``moved`` (their transplanted versions), and how many were counted (NaN, 0 when
    none)."""
    before = label(images, images).cpu()
    after = label(images, moved).cpu()
    counted = before != target
    n = int(counted.sum())
    if n == 0:
        return float("nan"), 0
    return float((after[counted] == target).float().mean()), n


def recipients(images: Tensor, labels: Tensor, target: int, limit: int) -> Tensor:
    """Up to ``limit`` of ``images`` whose label is not ``target``, in order."""
    keep = (labels.cpu() != target).nonzero().flatten()[:limit]
    return images[keep.to(images.device)]


__all__ = [
    "CONCENTRATED",
    "EMPTY",
    "GLOBAL",
    "GLOBAL_AREA",
    "RELIANT",
    "Donors",
    "Finding",
    "Labeller",
    "class_findings",
    "donors",
    "empty_cells",
    "places",
    "recipients",
    "reliance",
    "transplant",
]
