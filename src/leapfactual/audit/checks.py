"""Reliance on an audit's shortcut candidates before and after a repair, the teacher check
and the repair verdict (docs/method.md §10).

Every candidate of an audit (:class:`~leapfactual.audit.transplant.Finding`) is transplanted
into up to ``limit`` held-out images whose true class is another one
(:func:`~leapfactual.audit.transplant.transplant`; a candidate from a class reversed), and
each model or teacher is asked about the same images: its *reliance* on the candidate is the
share of them it moves to the candidate's class.

- **Teacher check**, before any labelling: a teacher whose reliance on a candidate is at least
  :data:`~leapfactual.audit.transplant.RELIANT` shares the shortcut; its labels would teach it
  back, so it is refused (:func:`check_teacher`) unless the user overrides.
- **Verdict**, after: over the candidates the model relied on before the repair, ``repaired``
  when reliance on each is now below ``RELIANT`` and the repaired model relies on no candidate
  it did not rely on before (new, or risen past ``RELIANT``); ``partly`` when reliance on at
  least one fell by :data:`FELL` or more or went below ``RELIANT``; else ``not repaired``. ``not
  measured`` when the audit found no candidate or the model relied on none.

A repaired run keeps the candidates of the audit before the repair with their donors
(:func:`save_candidates`), so that an audit of the repaired run measures reliance on the very
transplants the repair measured before it (:func:`load_candidates`), on the same held-out
images: the repair's verdict is read from that audit, which any later audit with the same
seed reproduces.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from leapfactual.audit.necessity import Necessity
from leapfactual.audit.teachers import Teacher, TeacherQueue
from leapfactual.audit.transplant import (
    MOST_NEEDED,
    RELIANT,
    Donors,
    Finding,
    Labeller,
    donors,
    recipients,
    reliance,
    transplant,
)
from leapfactual.explain import Explanation, Outputs
from leapfactual.io import load_tensors, save_tensors
from leapfactual.pipeline import predict_probs

FELL = 0.1
"""Reliance on a candidate must fall by at least this much for a repair to count as partial."""
LIMIT = 200
"""Held-out images of other classes each candidate is transplanted into."""
VERDICTS = ("repaired", "partly", "not repaired", "not measured")


def model_labeller(model: Callable[[Tensor], Any], outputs: Outputs = "logits") -> Labeller:
    """A model's argmax of the images it is shown."""
    return lambda x, shown: predict_probs(model, shown, outputs).argmax(1)


def teacher_labeller(teacher: Teacher, class_names: Sequence[str]) -> Labeller:
    """A teacher's answer on each (input, changed image) pair."""

    def label(x: Tensor, shown: Tensor) -> Tensor:
        zeros = torch.zeros(len(x), dtype=torch.long)
        return teacher.label(TeacherQueue(x, shown, zeros, zeros, class_names))

    return label


@dataclass
class CandidateReliance:
    """Reliance on one candidate per model or teacher (``values``, NaN: no image counted) and
    how many images each counted."""

    finding: Finding
    values: dict[str, float] = field(default_factory=dict)
    counted: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"candidate": self.finding.as_dict(), "reliance": dict(self.values),
                "counted": dict(self.counted)}  # fmt: skip


Candidate = tuple[Finding, Donors]
"""A shortcut candidate and the changes a transplant of it copies."""


def candidates(
    exp: Explanation,
    nec: Necessity,
    findings: Sequence[Finding],
    model: Labeller,
    bounds: tuple[float, float],
    grid: int = 4,
) -> list[Candidate]:
    """Every shortcut candidate of ``findings`` with its donors from the audited CEs (global
    edits at their sufficient doses for ``model``, the audited one)."""
    return [(f, donors(exp, nec, f, model, bounds, grid)) for f in findings if f.candidate]


def measure_candidates(
    labellers: dict[str, Labeller],
    pairs: Sequence[Candidate],
    images: Tensor,
    labels: Tensor,
    bounds: tuple[float, float],
    *,
    limit: int = LIMIT,
) -> list[CandidateReliance]:
    """Reliance of every labeller on every candidate of ``pairs``, transplanted into up to
    ``limit`` of ``images`` whose true ``labels`` are another class."""
    out = []
    for finding, given in pairs:
        base = recipients(images, labels, finding.klass, limit).cpu()
        moved = transplant(given, base, bounds)
        row = CandidateReliance(finding)
        for name, label in labellers.items():
            row.values[name], row.counted[name] = reliance(label, base, moved, finding.klass)
        out.append(row)
    return out


def relied_on(rows: Sequence[CandidateReliance], name: str = "model") -> list[Finding]:
    """The candidates of ``rows`` that ``name`` relies on (reliance at least :data:`RELIANT`)."""
    return [r.finding for r in rows if r.values.get(name, float("nan")) >= RELIANT]


def reliance_measure(
    rows: Sequence[CandidateReliance],
    pairs: Sequence[Candidate],
    images: Tensor,
    labels: Tensor,
    bounds: tuple[float, float],
) -> Callable[[nn.Module], float]:
    """A model's largest reliance on the candidates of ``pairs`` that the audited model relied
    on (``rows``), transplanted into ``images`` of other classes (``--rounds auto``'s
    measure); refused where it relied on none."""
    relied = relied_on(rows)
    chosen = [(f, d) for f, d in pairs if f in relied]
    if not chosen:
        raise ValueError(
            "--rounds auto repeats rounds until reliance on the audit's shortcut candidates "
            "stops falling, but the model relies on none of them (no reliance of "
            f"{RELIANT:.0%} or more); give a number of rounds (--rounds N)"
        )

    def largest(model: nn.Module) -> float:
        label = {"model": model_labeller(model)}
        found = measure_candidates(label, chosen, images, labels, bounds)
        return max(r.values["model"] if r.counted["model"] else 0.0 for r in found)

    return largest


def save_candidates(stem: Path, pairs: Sequence[Candidate]) -> Path:
    """Write ``pairs`` to ``STEM.safetensors`` (each candidate's donor changes or edit
    coefficients) with their findings in the sidecar."""
    tensors: dict[str, Tensor] = {}
    listed = []
    for i, (finding, given) in enumerate(pairs):
        held = given.changes if given.changes is not None else given.params
        assert held is not None
        tensors[f"donors-{i}"] = held.contiguous()
        listed.append({**finding.as_dict(), "edit": given.edit})
    return save_tensors(stem, tensors, {"kind": "shortcut-candidates", "candidates": listed})


def load_candidates(stem: Path) -> list[Candidate]:
    """The candidates :func:`save_candidates` wrote (checked; never unpickled)."""
    tensors, meta = load_tensors(stem)
    out = []
    for i, item in enumerate(meta.get("candidates", [])):
        finding = Finding(int(item["class"]), str(item["name"]), str(item["direction"]),
                          str(item["place"]), float(item["share"]), int(item["ces"]),
                          bool(item["outside"]), str(item.get("rule", MOST_NEEDED)))  # fmt: skip
        held, edit = tensors[f"donors-{i}"], item.get("edit")
        if edit is None:
            out.append((finding, Donors(finding.klass, None, changes=held)))
        else:
            out.append((finding, Donors(finding.klass, str(edit), params=held)))
    return out


def check_teacher(rows: Sequence[CandidateReliance], teacher: str) -> None:
    """Refuse a ``teacher`` whose reliance (``values["teacher"]``) on a candidate is at least
    :data:`RELIANT`."""
    for row in rows:
        value = row.values.get("teacher", float("nan"))
        if value >= RELIANT:
            f = row.finding
            raise ValueError(
                f"the teacher ({teacher}) shares the shortcut: {f.copied} copied into "
                f"{row.counted['teacher']} held-out images of other classes moves {value:.0%} "
                f"of them to class {f.name} (a teacher may move at most {RELIANT:.0%}); use a "
                "teacher trained without the confound (--teacher model --teacher-spec "
                "OTHER_RUN/classifier), a rule (--teacher rule --ignore-region candidate) or a "
                "person (--teacher human), or add --allow-shortcut-teacher"
            )


def after_repair(
    before: Sequence[CandidateReliance],
    kept: Sequence[CandidateReliance],
    own: Sequence[CandidateReliance],
) -> list[CandidateReliance]:
    """The rows of the verdict: each candidate of the audit before the repair (``before``,
    the model's reliance as ``values["model"]``, the teacher's as ``"teacher"``) with the
    repaired model's reliance from its own audit: on the same transplants (``kept``,
    ``"after_same"``), on its own candidate at the same place and class, same direction (``own``,
    ``"after_own"``), and ``"after"``, the larger of the two. A candidate of the new audit at
    another place comes as a row of its own (``"after_own"`` and ``"after"`` only)."""
    rows, matched = [], set()
    for old, same in zip(before, kept, strict=True):
        values = {k: v for k, v in old.values.items() if k != "model"}
        counted = {k: v for k, v in old.counted.items() if k != "model"}
        values["before"], counted["before"] = old.values["model"], old.counted["model"]
        values["after_same"], counted["after_same"] = same.values["model"], same.counted["model"]
        after = [same.values["model"]]
        for i, mine in enumerate(own):
            if _same(mine.finding, old.finding):
                matched.add(i)
                values["after_own"], counted["after_own"] = (
                    mine.values["model"],
                    mine.counted["model"],
                )
                after.append(mine.values["model"])
        known = [v for v in after if v == v]
        values["after"] = max(known) if known else float("nan")
        counted["after"] = counted["after_same"]
        rows.append(CandidateReliance(old.finding, values, counted))
    for i, mine in enumerate(own):
        if i not in matched:
            value, n = mine.values["model"], mine.counted["model"]
            rows.append(CandidateReliance(
                mine.finding, {"after_own": value, "after": value}, {"after_own": n, "after": n}
            ))  # fmt: skip
    return rows


def _same(a: Finding, b: Finding) -> bool:
    return (a.klass, a.direction, a.place) == (b.klass, b.direction, b.place)


def _was(row: CandidateReliance) -> str:
    before = row.values.get("before", float("nan"))
    return "" if before != before else f"{before:.0%} -> "


def repair_verdict(rows: Sequence[CandidateReliance]) -> tuple[str, str]:
    """The verdict (one of :data:`VERDICTS`) from reliance ``before`` and ``after`` on each
    candidate (a row without ``before``: a candidate found only after the repair), and its
    reason in words. A candidate the model did not rely on before and does after (found only
    after the repair, or risen past :data:`RELIANT`) is never repaired."""
    if not rows:
        return "not measured", "the audit found no shortcut candidate"
    before = [r.values.get("before", float("nan")) >= RELIANT for r in rows]
    relied = [r for r, was in zip(rows, before, strict=True) if was]
    if not relied:
        return "not measured", f"the model relied on no candidate (below {RELIANT:.0%})"
    new = [
        r for r, was in zip(rows, before, strict=True) if not was and r.values["after"] >= RELIANT
    ]
    fixed = [r.values["after"] < RELIANT for r in relied]
    fell = [r.values["after"] <= r.values["before"] - FELL for r in relied]
    words = "; ".join(
        f"{r.finding.phrase}: {r.values['before']:.0%} -> "
        f"{r.values['after']:.0%}" for r in relied
    )  # fmt: skip
    if new:
        words += "; relied on only after the repair: " + "; ".join(
            f"{r.finding.phrase}: {_was(r)}{r.values['after']:.0%}" for r in new
        )
    if all(fixed) and not new:
        return "repaired", f"reliance below {RELIANT:.0%} on every candidate ({words})"
    if any(fixed) or any(fell):
        return "partly", f"reliance fell but not below {RELIANT:.0%} on all ({words})"
    return "not repaired", f"reliance did not fall by {FELL:.0%} on any candidate ({words})"


__all__ = [
    "FELL",
    "LIMIT",
    "VERDICTS",
    "Candidate",
    "CandidateReliance",
    "after_repair",
    "candidates",
    "check_teacher",
    "load_candidates",
    "measure_candidates",
    "model_labeller",
    "reliance_measure",
    "relied_on",
    "repair_verdict",
    "save_candidates",
    "teacher_labeller",
]
