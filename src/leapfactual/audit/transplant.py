"""Shortcut candidates of an audit and reliance on each, by transplant (docs/method.md §10).

Every valid CE's *most-needed part* (:meth:`~leapfactual.audit.necessity.Necessity.most_needed`)
gets a place: ``global: EDIT`` for a global edit, ``global`` for a region covering at least
:data:`GLOBAL_AREA` of the image (no cell would describe it), else the cell ``rRcC`` of a
``grid`` x ``grid`` partition that holds most of the region. :func:`places` names them and
:func:`class_findings` counts, per class and direction, the place named most often.

A *candidate* is a place that CEs toward class ``k`` (or from it) need in at least
:data:`CONCENTRATED` of them and that is not the object itself: a cell where the inputs are
mostly empty, or a global edit. A shortcut can show on either side: a model that calls every
image with a corner patch ``k`` has CEs toward ``k`` that paint the patch, but its CEs toward
``k`` may redraw the object instead (the patch is not the cheapest way in) while its CEs from
``k`` all take the patch away (it is the cheapest way out). A global edit is also a candidate
where it is needed without being the most-needed part (:func:`edit_findings`): taking it out of
``x'`` undoes at least :data:`NEEDED` of the valid CEs toward ``k`` (``Necessity.edit_needed``),
and :data:`SPECIFIC` more of them than of the CEs toward the other classes (an edit every CE
needs, such as the blur of strokes they redraw, is how CEs change an image, not a cue of one
class). Such an edit makes a candidate of every edit specific to ``k`` (``SPECIFIC`` more of its
CEs than of the others need it, even fewer than ``NEEDED``): ``global: contrast + colour`` (a
tint splits into a mean gain and each channel's deviation from it; neither alone is the tint,
and where removing the gain already undoes a CE, removing the colour need not).

*Transplant reliance* asks whether a model (the audited one, a repaired one, a teacher) acts
on a candidate: its change is copied from the CEs that needed it (the donors) into held-out
images, recipient ``i`` taking donor ``i mod D``: a region's pixels of the change added, or a
global edit's (or edits') coefficients applied to the recipient
(:func:`~leapfactual.audit.edits.edit_parts`), kept within the data's range. Reliance is the
share of the recipients a model does not put in ``k`` that it puts in ``k`` once the change is
in: "paint the patch on other digits", for any candidate and any model, without knowing the
true confound. A candidate from ``k`` is copied reversed: what its CEs took away (the patch off
an 8) is put on (the patch painted on other digits).

A global edit is copied at its *sufficient dose* (:func:`sufficient_doses`): a CE stops just
past the audited model's boundary and shares that push between the edit and the rest of its
change, so the edit alone, at the CE's strength, is weaker than the cue it stands for (a tint
model's CEs carry a fainter tint than its training images). Each donor's coefficients are
multiplied by the smallest of :data:`DOSES` at which the edit alone puts the donor's own input
in ``k`` (from ``k``: out of it) for the audited model and is still no larger than the donor's
whole change (a bigger edit asks about images farther from the data than any CE went), and kept
as they are where none does (an edit the model acts on only together with the rest of the
change). The dose is fixed with the donors, so a repaired model and a teacher are measured on
the same transplants. A region's change is copied as it is: it is the CE's most-needed part, and
pixel changes past their own size are another image."""

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
NEEDED = 0.5
"""A global edit whose removal undoes at least this share of the valid CEs toward a class is
needed toward it (with :data:`SPECIFIC`, a shortcut candidate)."""
SPECIFIC = 0.25
"""... and that share must exceed its share among the CEs toward the other classes by this."""
DOSES = (1.0, 1.25, 1.5, 2.0, 3.0, 4.0)
"""Multiples of a donor's global edit tried, for the smallest at which the edit alone moves
the donor's input to the candidate's class (:func:`sufficient_doses`)."""
GLOBAL = "global"
MOST_NEEDED = "most-needed"
"""A finding's rule: the place named most often as the CEs' most-needed part."""
TOWARD, FROM = "toward", "from"
"""A finding's direction: the CEs go toward its class, or leave it."""
NEEDED_RULE = "needed"
"""A finding's rule: global edits whose removal undoes most of the CEs (:func:`edit_findings`)."""


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
    """Where the most-needed change of the valid CEs toward (or ``from``) one class sits most
    often: ``place`` (a cell ``rRcC``, ``global`` or ``global: EDIT``), its ``share`` of the
    ``ces`` counted, and whether it is off the objects (``outside``: an empty cell or a
    global edit). With ``rule`` :data:`NEEDED_RULE`: the global edits ``global: A + B``
    needed toward the class, ``share``: the CEs that any of them undoes
    (:func:`edit_findings`)."""

    klass: int
    name: str
    direction: str
    place: str
    share: float
    ces: int
    outside: bool
    rule: str = MOST_NEEDED

    @property
    def candidate(self) -> bool:
        """A shortcut candidate: concentrated (or needed) and off the objects."""
        least = CONCENTRATED if self.rule == MOST_NEEDED else NEEDED
        return self.share >= least and self.outside

    @property
    def toward(self) -> bool:
        """Whether the CEs go toward the class (else they leave it: ``from``)."""
        return self.direction == TOWARD

    @property
    def edits(self) -> tuple[str, ...]:
        """The global edits of the place (``global: contrast + colour``), none for a region."""
        if not self.place.startswith(f"{GLOBAL}:"):
            return ()
        return tuple(self.place.split(": ", 1)[1].split(" + "))

    @property
    def label(self) -> str:
        """``cell r0c0``, ``global`` or ``global: brightness``: how pages name the place."""
        return self.place if self.place.startswith(GLOBAL) else f"cell {self.place}"

    @property
    def phrase(self) -> str:
        """``cell r0c0 toward 8``, ``global: colour from 3``: how messages name a candidate."""
        return f"{self.label} {self.direction} {self.name}"

    @property
    def copied(self) -> str:
        """What a transplant copies, in words: ``cell r0c0 toward 8``, ``cell r0c0 from 8,
        reversed``."""
        return self.phrase if self.toward else f"{self.phrase}, reversed,"

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["class"] = out.pop("klass")
        return {**out, "label": self.label, "candidate": self.candidate}


def class_findings(
    exp: Explanation, nec: Necessity, class_names: Sequence[str], grid: int = 4
) -> list[Finding]:
    """Per class and direction (CEs ``toward`` it, CEs ``from`` it) with valid CEs: the place
    named most often (ties: the first in sorted order), sorted by share. CEs from a class that
    are just the CEs toward another (two classes) make no second finding."""
    named = places(nec, grid)
    empty = empty_cells(exp.x, grid)
    valid = exp.valid.cpu()
    out = []
    counted = {
        (direction, k): [
            i for i in (valid & (classes.cpu() == k)).nonzero().flatten().tolist() if named[i]
        ]
        for k in range(len(class_names))
        for direction, classes in ((TOWARD, exp.target), (FROM, exp.source))
    }
    toward = {tuple(rows) for (direction, _), rows in counted.items() if direction == TOWARD}
    for (direction, k), rows in counted.items():
        if not rows or (direction == FROM and tuple(rows) in toward):
            continue
        counts: dict[str, int] = {}
        for i in rows:
            counts[named[i]] = counts.get(named[i], 0) + 1
        place = min(counts, key=lambda p: (-counts[p], p))
        outside = place.startswith(f"{GLOBAL}:") or place in empty
        share = counts[place] / len(rows)
        out.append(Finding(k, class_names[k], direction, place, share, len(rows), outside))
    return sorted(out, key=lambda f: (-f.share, f.klass, f.direction))


def edit_findings(exp: Explanation, nec: Necessity, class_names: Sequence[str]) -> list[Finding]:
    """Per class with valid CEs toward it where a global edit is needed (see the module
    docstring): the edits specific to it as one finding ``global: A + B`` (rule
    :data:`NEEDED_RULE`); sorted by share."""
    valid = exp.valid.cpu()
    needed = nec.edit_needed.float()
    target = exp.target.cpu()
    out = []
    for k, name in enumerate(class_names):
        mine, others = valid & (target == k), valid & (target != k)
        if not bool(mine.any()) or not needed.shape[1]:
            continue
        share = needed[mine].mean(0)
        rest = needed[others].mean(0) if bool(others.any()) else torch.zeros_like(share)
        specific = share - rest >= SPECIFIC
        if not bool((specific & (share >= NEEDED)).any()):
            continue
        chosen = specific.nonzero().flatten().tolist()
        place = f"{GLOBAL}: " + " + ".join(nec.edits[g] for g in chosen)
        undone = float(nec.edit_needed[mine][:, chosen].any(1).float().mean())
        out.append(Finding(k, name, TOWARD, place, undone, int(mine.sum()), True, NEEDED_RULE))
    return sorted(out, key=lambda f: (-f.share, f.klass))


def merge_findings(most: Sequence[Finding], needed: Sequence[Finding]) -> list[Finding]:
    """``most`` (:func:`class_findings`) and the ``needed`` (:func:`edit_findings`) whose
    class and place are not already a candidate of ``most``: one candidate per place."""
    taken = {(f.klass, f.direction, f.place) for f in most if f.candidate}
    return [*most, *(f for f in needed if (f.klass, f.direction, f.place) not in taken)]


@dataclass
class Donors:
    """What a transplant copies for one candidate, per donor CE: the change inside its region
    (``changes [D, C, H, W]``) or, for global edits (``edit``: ``"colour"``, ``"contrast +
    colour"``), their coefficients (``params [D, P]``). ``target``: the candidate's class."""

    target: int
    edit: str | None
    changes: Tensor | None = None
    params: Tensor | None = None

    def __len__(self) -> int:
        held = self.changes if self.changes is not None else self.params
        assert held is not None
        return len(held)


Labeller = Callable[[Tensor, Tensor], Tensor]
"""Class labels ``[N]`` of images ``shown [N, C, H, W]`` made from inputs ``x`` (same shape),
called ``label(x, shown)``: a model's argmax of ``shown``, a teacher's answer on the pair."""


def sufficient_doses(
    label: Labeller,
    x: Tensor,
    x_cf: Tensor,
    params: Tensor,
    edits: Sequence[str],
    klass: int,
    bounds: tuple[float, float],
    toward: bool = True,
) -> Tensor:
    """Per donor (inputs ``x``, CEs ``x_cf``, edit coefficients ``params``): the smallest of
    :data:`DOSES` at which the ``edits`` alone, coefficients times it, make ``label`` put ``x``
    in ``klass`` (``toward=False``: out of it), among the doses whose edit is no larger (L2)
    than the donor's whole change ``x_cf - x`` (a transplant never changes an image more than
    its CE did); 1 where none does. ``[D]``, ``params``' dtype."""
    dose = torch.ones(len(x), dtype=params.dtype)
    change = (x_cf - x).detach().double().flatten(1).norm(dim=1).cpu()
    part = edit_parts(x, params, edits).sum(dim=1)  # linear in the coefficients
    size = part.double().flatten(1).norm(dim=1).cpu()
    for s in reversed(DOSES):  # the smallest dose that works is written last
        shown = (x + s * part).clamp(*bounds)
        hit = ((label(x, shown).cpu() == klass) == toward) & (s * size <= change)
        dose = torch.where(hit, torch.tensor(s, dtype=dose.dtype), dose)
    return dose


def donors(
    exp: Explanation,
    nec: Necessity,
    finding: Finding,
    label: Labeller,
    bounds: tuple[float, float],
    grid: int = 4,
) -> Donors:
    """The valid CEs toward (or from) ``finding``'s class whose most-needed part is its place
    (rule :data:`NEEDED_RULE`: that any of its edits undoes); a global edit's coefficients at
    each donor's sufficient dose for ``label``, the audited model (:func:`sufficient_doses`).
    From the class: the changes reversed (what the CEs took away, put on)."""
    sign = 1.0 if finding.toward else -1.0
    mine = ces_of(exp, finding)
    if finding.rule == NEEDED_RULE:
        columns = [nec.edits.index(e) for e in finding.edits]
        rows = (mine & nec.edit_needed[:, columns].any(1)).nonzero().flatten().tolist()
    else:
        named = places(nec, grid)
        rows = [i for i, p in enumerate(named) if p == finding.place and bool(mine[i])]
    if not rows:
        raise ValueError(
            f"no valid CE {finding.direction} class {finding.klass} needs {finding.label}"
        )
    idx = torch.tensor(rows)
    x, x_cf = exp.x.detach().cpu()[idx], exp.x_cf.detach().cpu()[idx]
    if finding.place.startswith(f"{GLOBAL}:"):
        params = nec.edit_params[idx]
        dose = sufficient_doses(
            label, x, x_cf, params, finding.edits, finding.klass, bounds, finding.toward
        )
        scaled = sign * params * dose[:, None]
        return Donors(finding.klass, " + ".join(finding.edits), params=scaled)
    top = nec.most_needed()[idx] - len(nec.edits) + 1
    mask = (nec.regions[idx] == top[:, None, None]).unsqueeze(1)
    rest = x_cf - x - nec.parts(x, idx).sum(dim=1)
    change = torch.where(mask, sign * rest, torch.zeros_like(rest))
    return Donors(finding.klass, None, changes=change)


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
        moved = x + edit_parts(x, d.params[pick], d.edit.split(" + ")).sum(dim=1)
    return moved.clamp(*bounds)


def ces_of(exp: Explanation, finding: Finding) -> Tensor:
    """Which CEs of ``exp`` are valid and go toward (or from) ``finding``'s class ``[B]``."""
    classes = exp.target if finding.toward else exp.source
    return exp.valid.cpu() & (classes.cpu() == finding.klass)


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
    "DOSES",
    "EMPTY",
    "FROM",
    "GLOBAL",
    "GLOBAL_AREA",
    "MOST_NEEDED",
    "NEEDED",
    "NEEDED_RULE",
    "RELIANT",
    "SPECIFIC",
    "TOWARD",
    "Donors",
    "Finding",
    "Labeller",
    "ces_of",
    "class_findings",
    "donors",
    "edit_findings",
    "empty_cells",
    "merge_findings",
    "places",
    "recipients",
    "reliance",
    "sufficient_doses",
    "transplant",
]
