"""Audits of counterfactual explanations from the classifier's outputs (docs/method.md §10).

- regions: :func:`change_regions` splits a change ``x' - x`` into connected components or
  grid cells.
- necessity: :func:`necessity` reverts each region (its *drop* in target probability),
  finds a greedy minimal sufficient change and the COUT transition curve;
  :func:`necessity_map` paints each pixel with its region's drop.
- summary: :func:`summarise` averages all of it per (source, target) pair, with attribute
  attributions where probes exist; :func:`summary_table` gives report rows.
- edits: global edits (brightness, contrast, colour, blur) split off each change first.
- transplant: shortcut candidates (a cell off the objects, a global edit that is the CEs'
  most-needed part or whose removal undoes most of them) and any model's reliance on one, by
  copying its change into images of other classes.
- checks: reliance before and after a repair, the teacher check, the repair verdict;
  repaired: a repaired classifier written as a run of its own.
- teachers: judges of CEs for counterfactual knowledge distillation: a rule
  (:class:`RuleTeacher`), a model (:class:`ModelTeacher`), the model with a region or edit
  declared irrelevant (:class:`IgnoreTeacher`) and a person (:class:`HumanTeacher`, a page
  served on 127.0.0.1 that saves every answer as it is given).
- attribution: :class:`CounterfactualAttribution`, a CE in Captum's call shape
  (``attribute(inputs, target)``: the signed change or the needed part of it).
"""

from typing import TYPE_CHECKING

from leapfactual._lazy import lazy_face

if TYPE_CHECKING:
    from leapfactual.audit.attribution import CounterfactualAttribution
    from leapfactual.audit.cfkd import TargetTeacher, cfkd, refitting_factory
    from leapfactual.audit.checks import (
        VERDICTS,
        check_teacher,
        load_candidates,
        measure_candidates,
        model_labeller,
        repair_verdict,
    )
    from leapfactual.audit.jobs import (
        ANSWERS,
        audit_run,
        class_accuracies,
        data_bounds,
        make_teacher,
        no_nan,
        repair_run,
        top_region_cells,
        verdict_lines,
    )
    from leapfactual.audit.necessity import Necessity, necessity, necessity_map
    from leapfactual.audit.options import (
        AUDIT_LIMIT,
        AUTO_ROUNDS,
        STABLE,
        CFKDSettings,
        parse_rounds,
    )
    from leapfactual.audit.regions import change_regions, grid_cells, pixel_change
    from leapfactual.audit.repaired import CANDIDATES
    from leapfactual.audit.summary import Cell, PairSummary, summarise, summary_table
    from leapfactual.audit.teacher_server import HumanTeacher, ServerHandle, read_labels, serve
    from leapfactual.audit.teachers import (
        IgnoreTeacher,
        ModelTeacher,
        RuleTeacher,
        Teacher,
        TeacherQueue,
    )
    from leapfactual.audit.transplant import (
        CONCENTRATED,
        GLOBAL_AREA,
        NEEDED,
        RELIANT,
        SPECIFIC,
        Finding,
        edit_findings,
    )

__all__ = [
    "ANSWERS",
    "AUDIT_LIMIT",
    "AUTO_ROUNDS",
    "CANDIDATES",
    "CONCENTRATED",
    "GLOBAL_AREA",
    "NEEDED",
    "RELIANT",
    "SPECIFIC",
    "STABLE",
    "VERDICTS",
    "CFKDSettings",
    "Cell",
    "CounterfactualAttribution",
    "Finding",
    "HumanTeacher",
    "IgnoreTeacher",
    "ModelTeacher",
    "Necessity",
    "PairSummary",
    "RuleTeacher",
    "ServerHandle",
    "TargetTeacher",
    "Teacher",
    "TeacherQueue",
    "audit_run",
    "cfkd",
    "change_regions",
    "check_teacher",
    "class_accuracies",
    "data_bounds",
    "edit_findings",
    "grid_cells",
    "load_candidates",
    "make_teacher",
    "measure_candidates",
    "model_labeller",
    "necessity",
    "necessity_map",
    "no_nan",
    "parse_rounds",
    "pixel_change",
    "read_labels",
    "refitting_factory",
    "repair_run",
    "repair_verdict",
    "serve",
    "summarise",
    "summary_table",
    "top_region_cells",
    "verdict_lines",
]

lazy_face(__name__, light=("options",))
