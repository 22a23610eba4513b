"""Rule and model teachers: the class each CE really shows; a shortcut change keeps the source."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from leapfactual.audit.teacher_server import HumanTeacher
from leapfactual.audit.teachers import ModelTeacher, RuleTeacher, Teacher, TeacherQueue
from leapfactual.explain import Explanation

NAMES = ("dark", "bright")


def left_half_rule(x: Tensor) -> Tensor:
    """Class 1 when the left half is bright: logits ``[B, 2]``."""
    score = x[..., : x.shape[-1] // 2].mean(dim=(1, 2, 3)) - 0.5
    return torch.stack([-score, score], dim=1)


def queue() -> TeacherQueue:
    """Two dark inputs asked to become bright: the first CE brightens the left half (a real
    change), the second only the right half (a shortcut the rule ignores)."""
    x = torch.zeros(2, 1, 8, 8)
    x_cf = x.clone()
    x_cf[0, :, :, :4] = 1
    x_cf[1, :, :, 4:] = 1
    return TeacherQueue(x, x_cf, torch.tensor([0, 0]), torch.tensor([1, 1]), NAMES)


def test_rule_teacher_keeps_the_source_label_of_a_shortcut_change() -> None:
    labels = RuleTeacher(left_half_rule).label(queue())
    assert labels.dtype == torch.int64
    assert labels.tolist() == [1, 0]


class Oracle(nn.Module):
    """The left-half rule as a module with dropout, returning a dict (as HF models do)."""

    def __init__(self) -> None:
        super().__init__()
        self.drop = nn.Dropout(0.9)
        self.scale = nn.Parameter(torch.ones(()))
        self.calls: list[tuple[int, bool, bool]] = []

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        self.calls.append((len(x), self.training, torch.is_grad_enabled()))
        return {"logits": self.drop(left_half_rule(x) * self.scale)}


def test_model_teacher_is_batched_in_eval_mode_without_gradients() -> None:
    q = queue()
    q = TeacherQueue(
        q.x.repeat(3, 1, 1, 1),
        q.x_cf.repeat(3, 1, 1, 1),
        q.source.repeat(3),
        q.target.repeat(3),
        NAMES,
    )
    model = Oracle().train()
    labels = ModelTeacher(model, batch_size=4).label(q)
    assert labels.tolist() == [1, 0] * 3
    assert model.calls == [(4, False, False), (2, False, False)]
    assert model.training  # restored


def test_every_teacher_fits_the_protocol(tmp_path) -> None:
    for teacher in (RuleTeacher(left_half_rule), ModelTeacher(Oracle()), HumanTeacher(tmp_path)):
        assert isinstance(teacher, Teacher)


def test_an_empty_queue_gets_no_labels() -> None:
    empty = TeacherQueue(
        torch.zeros(0, 1, 8, 8),
        torch.zeros(0, 1, 8, 8),
        torch.zeros(0, dtype=torch.long),
        torch.zeros(0, dtype=torch.long),
        NAMES,
    )
    assert RuleTeacher(left_half_rule).label(empty).shape == (0,)


def test_queue_from_an_explanation() -> None:
    x = torch.rand(3, 1, 8, 8)
    exp = Explanation(
        "m",
        x,
        x.flip(-1),
        torch.tensor([0, 1, 0]),
        torch.tensor([1, 0, 1]),
        torch.zeros(3, 2),
        torch.zeros(3, 2),
    )
    q = TeacherQueue.from_explanation(exp, NAMES, ids=["a", "b", "c"])
    assert torch.equal(q.x_cf, exp.x_cf) and q.ids == ("a", "b", "c") and len(q) == 3
    assert TeacherQueue.from_explanation(exp, NAMES).ids == ("0", "1", "2")
    with pytest.raises(ValueError, match="no reliable CEs"):
        TeacherQueue.from_explanation(exp, NAMES, reliable=True)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"x_cf": torch.zeros(2, 1, 8, 7)}, "x_cf must have the shape of x"),
        ({"x": torch.zeros(2, 64)}, r"x must be a Tensor \[N, C, H, W\]"),
        ({"source": torch.tensor([0, 2])}, r"source must be class indices in \[0, 2\)"),
        ({"target": torch.tensor([1.0, 1.0])}, "target must be integer class indices"),
        ({"source": torch.tensor([0])}, r"source must be integer class indices \[2\]"),
        ({"class_names": ["one"]}, "two or more strings"),
        ({"needed": torch.zeros(2, 3, 8, 8)}, r"needed must be a Tensor \[2, 1, 8, 8\]"),
        ({"ids": ["a", "a"]}, "2 distinct strings"),
        ({"ids": ["a"]}, "2 distinct strings"),
    ],
)
def test_bad_queues_are_refused_with_what_is_wrong(change: dict, message: str) -> None:
    q = queue()
    fields = {"x": q.x, "x_cf": q.x_cf, "source": q.source, "target": q.target}
    with pytest.raises(ValueError, match=message):
        TeacherQueue(**{**fields, "class_names": NAMES, **change})


def test_bad_teachers_are_refused_with_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="rule must be callable"):
        RuleTeacher("not a function")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        ModelTeacher(Oracle(), batch_size=0)
    with pytest.raises(ValueError, match=r"\[B, K\] = \[2, 2\].*got shape \(2, 3\)"):
        RuleTeacher(lambda x: torch.zeros(len(x), 3)).label(queue())
    with pytest.raises(
        ValueError, match=r"rule teacher returned 2 outputs, not one Tensor: \[0\] \(2, 1, 8, 8\)"
    ):
        RuleTeacher(lambda x: (x, x)).label(queue())
    with pytest.raises(ValueError, match="the teacher model failed on a batch of shape"):
        ModelTeacher(nn.Linear(3, 2)).label(queue())


def test_a_teacher_with_nan_scores_is_named_and_gives_no_label() -> None:
    def broken_rule(x: Tensor) -> Tensor:
        out = left_half_rule(x)
        out[1] = float("nan")
        return out

    message = (
        r"the rule teacher \(function\) returned NaN or infinite "
        r"values for 1 of 2 samples .* while labelling the CEs"
    )
    with pytest.raises(ValueError, match=message):
        RuleTeacher(broken_rule).label(queue())

    class NanOracle(Oracle):
        def forward(self, x: Tensor) -> dict[str, Tensor]:
            return {"logits": super().forward(x)["logits"] * float("inf") * 0}

    with pytest.raises(ValueError, match=r"the teacher model \(NanOracle\) returned NaN"):
        ModelTeacher(NanOracle()).label(queue())
    assert RuleTeacher(left_half_rule).label(queue()).tolist() == [1, 0]  # finite: labels
