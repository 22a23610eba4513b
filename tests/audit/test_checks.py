import math

import pytest
import torch

from leapfactual.audit import ModelTeacher, RuleTeacher, necessity
from leapfactual.audit.checks import (
    CandidateReliance,
    after_repair,
    candidates,
    check_teacher,
    load_candidates,
    measure_candidates,
    model_labeller,
    reliance_measure,
    relied_on,
    repair_verdict,
    save_candidates,
    teacher_labeller,
)
from leapfactual.audit.transplant import Donors, Finding, class_findings
from tests.audit.test_transplant import add_patch, centre_rule, explained, objects, patch_rule

NAMES = ["0", "1"]


def audit_of_patch_model():
    x = objects(6)
    exp = explained(patch_rule, x, add_patch(x))
    nec = necessity(patch_rule, exp.x, exp.x_cf, exp.target, exp.source)
    return exp, nec, class_findings(exp, nec, NAMES)


def test_the_teacher_check_refuses_a_teacher_with_the_shortcut_and_passes_a_clean_one() -> None:
    exp, nec, findings = audit_of_patch_model()
    images, labels = objects(8), torch.zeros(8, dtype=torch.long)
    labellers = {
        "teacher": teacher_labeller(ModelTeacher(patch_rule), NAMES),
        "clean": teacher_labeller(RuleTeacher(centre_rule), NAMES),
    }
    pairs = candidates(exp, nec, findings, model_labeller(patch_rule), (0.0, 1.0))
    rows = measure_candidates(labellers, pairs, images, labels, (0.0, 1.0))
    assert len(rows) == 1 and rows[0].finding.place == "r3c3"
    assert rows[0].values == {"teacher": 1.0, "clean": 0.0}
    assert rows[0].counted == {"teacher": 8, "clean": 8}
    said = (r"shares the shortcut: cell r3c3 toward 1 copied into 8 held-out images of other "
            r"classes moves 100% of them to class 1")  # fmt: skip
    with pytest.raises(ValueError, match=said):
        check_teacher(rows, "ModelTeacher")
    clean = [CandidateReliance(rows[0].finding, {"teacher": 0.0}, {"teacher": 8})]
    check_teacher(clean, "RuleTeacher")  # quiet
    taken = Finding(1, "1", "from", "r3c3", 0.9, 10, True)  # a patch the CEs took away
    said = (r"shares the shortcut: cell r3c3 from 1, reversed, copied into 8 held-out images "
            r"of other classes moves 50% of them to class 1")  # fmt: skip
    with pytest.raises(ValueError, match=said):
        check_teacher([CandidateReliance(taken, {"teacher": 0.5}, {"teacher": 8})], "ModelTeacher")


def test_model_labeller_is_the_argmax_of_what_it_is_shown() -> None:
    label = model_labeller(patch_rule)
    x = objects(2)
    assert label(x, x).tolist() == [0, 0] and label(x, add_patch(x)).tolist() == [1, 1]


def row(before: float, after: float) -> CandidateReliance:
    finding = Finding(1, "1", "toward", "r3c3", 0.9, 10, True)
    return CandidateReliance(finding, {"before": before, "after": after})


@pytest.mark.parametrize(
    ("rows", "verdict"),
    [
        ([row(0.85, 0.05)], "repaired"),
        ([row(0.85, 0.65)], "partly"),  # fell, but the model still relies on it
        ([row(0.85, 0.05), row(0.7, 0.69)], "partly"),
        ([row(0.85, 0.8)], "not repaired"),  # the case is no success
        ([row(0.85, math.nan)], "not repaired"),
        ([row(0.1, 0.0)], "not measured"),
        ([], "not measured"),
    ],
)
def test_the_repair_verdict(rows, verdict) -> None:
    got, reason = repair_verdict(rows)
    assert got == verdict and reason


def test_after_repair_takes_the_larger_of_the_same_changes_and_the_own_ces() -> None:
    """The known case: the same transplants moved 8 % after the repair, the repaired model's
    own CEs at the same place 23 %; the verdict must not say repaired."""
    finding = Finding(1, "1", "toward", "r3c3", 0.9, 10, True)
    before = [
        CandidateReliance(finding, {"model": 0.37, "teacher": 0.0}, {"model": 9, "teacher": 9})
    ]
    same = [CandidateReliance(finding, {"model": 0.08}, {"model": 9})]
    own = [CandidateReliance(finding, {"model": 0.23}, {"model": 9})]
    rows = after_repair(before, same, own)
    assert rows[0].values == {"teacher": 0.0, "before": 0.37, "after_same": 0.08,
                              "after_own": 0.23, "after": 0.23}  # fmt: skip
    assert repair_verdict(rows)[0] == "partly"
    quiet = after_repair(before, same, [CandidateReliance(finding, {"model": 0.05}, {"model": 9})])
    assert quiet[0].values["after"] == 0.08 and repair_verdict(quiet)[0] == "repaired"
    alone = after_repair(before, same, [])  # the new audit no longer finds the candidate
    assert alone[0].values["after"] == 0.08 and "after_own" not in alone[0].values
    # the same place and class from the other side is another candidate, not the same one
    other = Finding(1, "1", "from", "r3c3", 0.9, 10, True)
    apart = after_repair(before, same, [CandidateReliance(other, {"model": 0.5}, {"model": 9})])
    assert apart[0].values["after"] == 0.08 and apart[1].finding == other
    assert repair_verdict(apart) == (
        "partly", "reliance fell but not below 20% on all (cell r3c3 toward 1: 37% -> 8%; relied "
        "on only after the repair: cell r3c3 from 1: 50%)",
    )  # fmt: skip


def test_a_new_candidate_after_the_repair_keeps_the_verdict_from_repaired() -> None:
    finding = Finding(1, "1", "toward", "r3c3", 0.9, 10, True)
    elsewhere = Finding(0, "0", "toward", "global: brightness", 0.8, 10, True)
    before = [CandidateReliance(finding, {"model": 0.9}, {"model": 9})]
    same = [CandidateReliance(finding, {"model": 0.0}, {"model": 9})]
    new = [CandidateReliance(elsewhere, {"model": 0.6}, {"model": 9})]
    rows = after_repair(before, same, new)
    assert len(rows) == 2 and rows[1].values == {"after_own": 0.6, "after": 0.6}
    verdict, reason = repair_verdict(rows)
    assert verdict == "partly"
    assert "relied on only after the repair: global: brightness toward 0: 60%" in reason
    harmless = [CandidateReliance(elsewhere, {"model": 0.1}, {"model": 9})]
    assert repair_verdict(after_repair(before, same, harmless))[0] == "repaired"


def test_a_candidate_that_rose_past_the_line_keeps_the_verdict_from_repaired() -> None:
    """The known case: a candidate at 18 % before the repair (not relied on) at 26 % on the
    same changes and 70 % on the repaired model's own CEs after it."""
    patch = Finding(8, "8", "toward", "r0c0", 0.9, 10, True)
    faded = Finding(1, "1", "toward", "global: contrast", 0.8, 10, True)
    before = [CandidateReliance(patch, {"model": 0.56}, {"model": 9}),
              CandidateReliance(faded, {"model": 0.18}, {"model": 9})]  # fmt: skip
    same = [CandidateReliance(patch, {"model": 0.0}, {"model": 9}),
            CandidateReliance(faded, {"model": 0.26}, {"model": 9})]  # fmt: skip
    own = [CandidateReliance(faded, {"model": 0.7}, {"model": 9})]
    verdict, reason = repair_verdict(after_repair(before, same, own))
    assert verdict == "partly"
    assert reason.endswith(
        "relied on only after the repair: global: contrast toward 1: 18% -> 70%)"
    )
    stayed = [same[0], CandidateReliance(faded, {"model": 0.1}, {"model": 9})]
    assert repair_verdict(after_repair(before, stayed, []))[0] == "repaired"


def test_only_candidates_a_model_relies_on_are_relied_on() -> None:
    cell = Finding(1, "1", "toward", "r3c3", 0.9, 10, True)
    edit = Finding(0, "0", "toward", "global: contrast", 0.6, 10, True, "needed")
    rows = [CandidateReliance(cell, {"model": 0.5}), CandidateReliance(edit, {"model": 0.03}),
            CandidateReliance(edit, {"model": math.nan})]  # fmt: skip
    assert relied_on(rows) == [cell]
    assert relied_on(rows, "teacher") == []


def test_the_rounds_auto_measure_is_the_largest_reliance_on_relied_candidates() -> None:
    exp, nec, findings = audit_of_patch_model()
    pairs = candidates(exp, nec, findings, model_labeller(patch_rule), (0.0, 1.0))
    zeros = torch.zeros(8, dtype=torch.long)
    rows = measure_candidates({"model": model_labeller(patch_rule)}, pairs, objects(8), zeros,
                              (0.0, 1.0))  # fmt: skip
    measure = reliance_measure(rows, pairs, objects(8), torch.zeros(8, dtype=torch.long), (0, 1))
    assert measure(patch_rule) == 1.0 and measure(centre_rule) == 0.0  # type: ignore[arg-type]


def test_candidates_are_saved_and_loaded_with_their_donors(tmp_path) -> None:
    exp, nec, findings = audit_of_patch_model()
    pairs = candidates(exp, nec, findings, model_labeller(patch_rule), (0.0, 1.0))
    tinted = Finding(0, "0", "toward", "global: brightness", 0.5, 4, True)
    pairs.append((tinted, Donors(0, "brightness", params=torch.rand(4, 1))))
    needed = Finding(0, "0", "toward", "global: contrast + colour", 0.6, 5, True, "needed")
    pairs.append((needed, Donors(0, "contrast + colour", params=torch.rand(3, 7))))
    save_candidates(tmp_path / "candidates", pairs)
    loaded = load_candidates(tmp_path / "candidates")
    assert [f for f, _ in loaded] == [f for f, _ in pairs]
    for (_, got), (_, want) in zip(loaded, pairs, strict=True):
        assert got.edit == want.edit and got.target == want.target
        held, wanted = (
            (got.changes, want.changes) if want.edit is None else (got.params, want.params)
        )
        assert held is not None and wanted is not None and torch.equal(held, wanted)
    images, labels = objects(8), torch.zeros(8, dtype=torch.long)
    label = {"model": model_labeller(patch_rule)}
    assert [r.values for r in measure_candidates(label, loaded[:1], images, labels, (0.0, 1.0))] \
        == [r.values for r in measure_candidates(
            label, candidates(exp, nec, findings, label["model"], (0.0, 1.0)), images, labels,
            (0.0, 1.0))]  # fmt: skip
    save_candidates(tmp_path / "none", [])
    assert load_candidates(tmp_path / "none") == []
