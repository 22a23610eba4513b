import math

import pytest
import torch

from leapfactual.audit import ModelTeacher, RuleTeacher, necessity
from leapfactual.audit.checks import (
    CandidateReliance,
    check_teacher,
    measure_reliance,
    model_labeller,
    repair_verdict,
    teacher_labeller,
)
from leapfactual.audit.transplant import Finding, class_findings
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
    rows = measure_reliance(labellers, exp, nec, findings, images, labels, (0.0, 1.0))
    assert len(rows) == 1 and rows[0].finding.place == "r3c3"
    assert rows[0].values == {"teacher": 1.0, "clean": 0.0}
    assert rows[0].counted == {"teacher": 8, "clean": 8}
    with pytest.raises(ValueError, match=r"shares the shortcut: cell r3c3 copied into 8 held-out "
                       r"images of other classes moves 100% of them to class 1"):  # fmt: skip
        check_teacher(rows, "ModelTeacher")
    clean = [CandidateReliance(rows[0].finding, {"teacher": 0.0}, {"teacher": 8})]
    check_teacher(clean, "RuleTeacher")  # quiet


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
