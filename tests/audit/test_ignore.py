import numpy as np
import pytest
import torch
from PIL import Image

from leapfactual.audit import IgnoreTeacher, TeacherQueue, necessity
from leapfactual.audit.ignore import candidate_parts, ignore_teacher, parse_region
from leapfactual.audit.transplant import class_findings
from tests.audit.test_transplant import (
    add_patch,
    audit_of_a_removed_patch,
    brightness_rule,
    centre_rule,
    corner_or_bright,
    explained,
    objects,
    patch_rule,
    tint,
)

NAMES = ["0", "1"]


def queue(x, x_cf, names=NAMES) -> TeacherQueue:
    n = len(x)
    return TeacherQueue(x, x_cf, torch.zeros(n, dtype=torch.long), torch.ones(n, dtype=torch.long),
                        names)  # fmt: skip


def test_a_box_or_a_mask_file_is_a_region_and_bad_ones_are_refused(tmp_path) -> None:
    box = parse_region("13,13,16,16", (16, 16))
    assert box is not None and int(box.sum()) == 9 and bool(box[15, 15]) and not box[12, 12]
    pixels = np.zeros((16, 16), dtype=np.uint8)
    pixels[:, :8] = 255
    Image.fromarray(pixels).save(tmp_path / "left.png")
    mask = parse_region(str(tmp_path / "left.png"), (16, 16))
    assert mask is not None and bool(mask[:, :8].all()) and not mask[:, 8:].any()
    assert parse_region("candidate", (16, 16)) is None
    with pytest.raises(ValueError, match="is 16x16 pixels, the run's images 8x8"):
        parse_region(str(tmp_path / "left.png"), (8, 8))
    with pytest.raises(ValueError, match="no such mask file"):
        parse_region(str(tmp_path / "none.png"), (16, 16))
    Image.fromarray(np.zeros((16, 16), dtype=np.uint8)).save(tmp_path / "black.png")
    with pytest.raises(ValueError, match="marks no pixel"):
        parse_region(str(tmp_path / "black.png"), (16, 16))
    with pytest.raises(ValueError, match="is no mask file, box or 'candidate'"):
        parse_region("top-left", (16, 16))
    with pytest.raises(ValueError, match="is not inside the 16x16 images"):
        parse_region("10,10,20,12", (16, 16))


def test_ignoring_the_patch_turns_the_shortcut_model_into_a_clean_teacher() -> None:
    x = objects(4)
    teacher = ignore_teacher(patch_rule, "13,13,16,16", (16, 16))
    assert isinstance(teacher, IgnoreTeacher)
    assert teacher.label(queue(x, add_patch(x))).tolist() == [0, 0, 0, 0]
    assert patch_rule(add_patch(x)).argmax(1).tolist() == [1, 1, 1, 1]
    elsewhere = ignore_teacher(patch_rule, "0,0,3,3", (16, 16))
    assert elsewhere.label(queue(x, add_patch(x))).tolist() == [1, 1, 1, 1]  # type: ignore[union-attr]


def test_the_candidate_is_the_region_its_donors_needed_or_the_global_edit() -> None:
    x = objects(6)
    exp = explained(patch_rule, x, add_patch(x))
    nec = necessity(patch_rule, exp.x, exp.x_cf, exp.target, exp.source)
    region, edits = candidate_parts(exp, nec, class_findings(exp, nec, NAMES))
    assert edits == () and region is not None
    assert bool(region[-3:, -3:].all()) and int(region.sum()) == 9
    build = ignore_teacher(patch_rule, "candidate", (16, 16))
    teacher = build(exp, nec, class_findings(exp, nec, NAMES))  # type: ignore[operator]
    assert teacher.label(queue(x, add_patch(x))).tolist() == [0] * 6
    exp = explained(brightness_rule, x, tint(x))
    nec = necessity(brightness_rule, exp.x, exp.x_cf, exp.target, exp.source)
    region, edits = candidate_parts(exp, nec, class_findings(exp, nec, NAMES))
    assert region is None and edits == ("brightness",)
    assert IgnoreTeacher(brightness_rule, None, edits).label(queue(x, tint(x))).tolist() == [0] * 6


def test_a_candidate_from_a_class_is_the_region_its_ces_took_away() -> None:
    exp, nec, _ = audit_of_a_removed_patch()
    found = [f for f in class_findings(exp, nec, ["0", "1", "2"]) if f.phrase == "cell r3c3 from 1"]
    assert found[0].candidate  # (the bar taken from class 2 is one too, in cells r0c1-r0c2)
    region, edits = candidate_parts(exp, nec, found)
    assert edits == () and region is not None
    assert bool(region[-3:, -3:].all()) and int(region.sum()) == 9
    # the teacher puts the patch back: an image of class 1 with the patch taken away is
    # still class 1; the object redrawn toward 1 is class 1 for the teacher too
    teacher = IgnoreTeacher(corner_or_bright, region)
    three = ["0", "1", "2"]
    assert teacher.label(queue(exp.x[8:12], exp.x_cf[8:12], three)).tolist() == [1] * 4
    assert teacher.label(queue(exp.x[:4], exp.x_cf[:4], three)).tolist() == [1] * 4


def test_without_a_candidate_there_is_nothing_to_ignore() -> None:
    x = objects(6)
    x_cf = x.clone()
    x_cf[:, :, 6:10, 6:10] = 1.0  # the object itself: no candidate
    exp = explained(centre_rule, x, x_cf)
    nec = necessity(centre_rule, exp.x, exp.x_cf, exp.target, exp.source)
    with pytest.raises(ValueError, match="found no shortcut candidate to ignore"):
        candidate_parts(exp, nec, class_findings(exp, nec, NAMES))


def test_the_ignore_teacher_refuses_bad_settings() -> None:
    with pytest.raises(ValueError, match="needs a region"):
        IgnoreTeacher(patch_rule)
    with pytest.raises(ValueError, match="unknown global edits"):
        IgnoreTeacher(patch_rule, None, ("sepia",))
    with pytest.raises(ValueError, match=r"mask must be a bool Tensor \[H, W\]"):
        IgnoreTeacher(patch_rule, torch.ones(16, 16))
    teacher = IgnoreTeacher(patch_rule, torch.ones(8, 8, dtype=torch.bool))
    with pytest.raises(ValueError, match="give a mask of the run's image size"):
        teacher.label(queue(objects(2), objects(2)))
