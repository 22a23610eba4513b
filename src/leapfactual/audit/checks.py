"""Reliance on an audit's shortcut candidates before and after a repair, the teacher check
and the repair verdict (docs/method.md §10).

Every candidate of an audit (:class:`~leapfactual.audit.transplant.Finding`) is transplanted
into up to ``limit`` held-out images whose true class is another one
(:func:`~leapfactual.audit.transplant.transplant`), and each model or teacher is asked about
the same images: its *reliance* on the candidate is the share of them it moves to the
candidate's class.

- **Teacher check**, before any labelling: a teacher whose reliance on a candidate is at least
  :data:`~leapfactual.audit.transplant.RELIANT` shares the shortcut; its labels would teach it
  back, so it is refused (:func:`check_teacher`) unless the user overrides.
- **Verdict**, after: over the candidates the model relied on before the repair, ``repaired``
  when reliance on each is now below ``RELIANT``; ``partly`` when reliance on at least one fell
  by :data:`FELL` or more or went below ``RELIANT``; else ``not repaired``. ``not measured``
  when the audit found no candidate or the model relied on none.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from leapfactual.audit.necessity import Necessity
from leapfactual.audit.teachers import Teacher, TeacherQueue
from leapfactual.audit.transplant import (
    RELIANT,
    Finding,
    Labeller,
    donors,
    recipients,
    reliance,
    transplant,
)
from leapfactual.explain import Explanation
from leapfactual.pipeline import predict_probs

FELL = 0.1
"""Reliance on a candidate must fall by at least this much for a repair to count as partial."""
LIMIT = 200
"""Held-out images of other classes each candidate is transplanted into."""
VERDICTS = ("repaired", "partly", "not repaired", "not measured")


def model_labeller(model: Callable[[Tensor], Any], outputs: str = "logits") -> Labeller:
    """A model's argmax of the images it is shown."""
    return lambda x, shown: predict_probs(model, shown, outputs).argmax(1)  # type: ignore[arg-type]


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


def measure_reliance(
    labellers: dict[str, Labeller],
    exp: Explanation,
    nec: Necessity,
    findings: Sequence[Finding],
    images: Tensor,
    labels: Tensor,
    bounds: tuple[float, float],
    *,
    limit: int = LIMIT,
    grid: int = 4,
) -> list[CandidateReliance]:
    """Reliance of every labeller on every candidate of ``findings``, transplanted into up to
    ``limit`` of ``images`` whose true ``labels`` are another class."""
    out = []
    for finding in findings:
        if not finding.candidate:
            continue
        base = recipients(images, labels, finding.klass, limit).cpu()
        moved = transplant(donors(exp, nec, finding, grid), base, bounds)
        row = CandidateReliance(finding)
        for name, label in labellers.items():
            row.values[name], row.counted[name] = reliance(label, base, moved, finding.klass)
        out.append(row)
    return out


def check_teacher(rows: Sequence[CandidateReliance], teacher: str) -> None:
    """Refuse a ``teacher`` whose reliance (``values["teacher"]``) on a candidate is at least
    :data:`RELIANT`."""
    for row in rows:
        value = row.values.get("teacher", float("nan"))
        if value >= RELIANT:
            f = row.finding
            raise ValueError(
                f"the teacher ({teacher}) shares the shortcut: {f.label} copied into "
                f"{row.counted['teacher']} held-out images of other classes moves {value:.0%} "
                f"of them to class {f.name} (a teacher may move at most {RELIANT:.0%}); use a "
                "teacher trained without the confound (--teacher model --teacher-spec "
                "OTHER_RUN/classifier), a rule (--teacher rule --ignore-region candidate) or a "
                "person (--teacher human), or add --allow-shortcut-teacher"
            )


def repair_verdict(rows: Sequence[CandidateReliance]) -> tuple[str, str]:
    """The verdict (one of :data:`VERDICTS`) from reliance ``before`` and ``after`` on each
    candidate, and its reason in words."""
    if not rows:
        return "not measured", "the audit found no shortcut candidate"
    relied = [r for r in rows if r.values.get("before", float("nan")) >= RELIANT]
    if not relied:
        return "not measured", f"the model relied on no candidate (below {RELIANT:.0%})"
    fixed = [r.values["after"] < RELIANT for r in relied]
    fell = [r.values["after"] <= r.values["before"] - FELL for r in relied]
    words = "; ".join(
        f"{r.finding.label} toward {r.finding.name}: {r.values['before']:.0%} -> "
        f"{r.values['after']:.0%}" for r in relied
    )  # fmt: skip
    if all(fixed):
        return "repaired", f"reliance below {RELIANT:.0%} on every candidate ({words})"
    if any(fixed) or any(fell):
        return "partly", f"reliance fell but not below {RELIANT:.0%} on all ({words})"
    return "not repaired", f"reliance did not fall by {FELL:.0%} on any candidate ({words})"


__all__ = [
    "FELL",
    "LIMIT",
    "VERDICTS",
    "CandidateReliance",
    "check_teacher",
    "measure_reliance",
    "model_labeller",
    "repair_verdict",
    "teacher_labeller",
]
