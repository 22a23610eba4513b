"""Teachers that judge counterfactuals: a rule, an oracle model, or a person.

A teacher labels each CE with the class it really shows. Counterfactual knowledge distillation
(CFKD) then trains on those labels: a CE whose change is a shortcut (a confounder the
classifier relies on) keeps its source label, so the student learns to ignore that change.
The person's teacher, :class:`leapfactual.audit.teacher_server.HumanTeacher`, serves a local
web page; the rule and the model here label every CE by the argmax of their outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from leapfactual.explain import Explanation, check_finite, model_errors
from leapfactual.models import as_tensor_outputs


@dataclass
class TeacherQueue:
    """The CEs a teacher judges.

    Attributes:
        x: the inputs ``[N, C, H, W]``.
        x_cf: their counterfactuals, same shape.
        source: the classifier's label of each input ``[N]``.
        target: the class each CE was asked to show ``[N]``.
        class_names: one name per class; labels are indices into it.
        needed: the needed-change map ``[N, 1, H, W]`` (e.g. from necessity), or None: the
            human teacher then shows the signed difference ``x_cf - x``.
        ids: a stable string per item (answers are stored by id); None: ``"0"``, ``"1"``, ...
    """

    x: Tensor
    x_cf: Tensor
    source: Tensor
    target: Tensor
    class_names: Sequence[str]
    needed: Tensor | None = None
    ids: Sequence[str] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.x, Tensor) or self.x.dim() != 4:
            raise ValueError(f"x must be a Tensor [N, C, H, W], got {_shape(self.x)}")
        n = len(self.x)
        if not isinstance(self.x_cf, Tensor) or self.x_cf.shape != self.x.shape:
            raise ValueError(
                f"x_cf must have the shape of x {tuple(self.x.shape)}, got {_shape(self.x_cf)}"
            )
        self.class_names = tuple(self.class_names)
        k = len(self.class_names)
        if k < 2 or not all(isinstance(name, str) for name in self.class_names):
            raise ValueError(f"class_names must be two or more strings, got {self.class_names}")
        for name in ("source", "target"):
            labels = getattr(self, name)
            if (
                not isinstance(labels, Tensor)
                or labels.shape != (n,)
                or labels.dtype.is_floating_point
                or labels.dtype == torch.bool
            ):
                raise ValueError(
                    f"{name} must be integer class indices [{n}], got {_shape(labels)}"
                )
            if n and not (int(labels.min()) >= 0 and int(labels.max()) < k):
                raise ValueError(f"{name} must be class indices in [0, {k}), got {labels.tolist()}")
        if self.needed is not None and (
            not isinstance(self.needed, Tensor) or self.needed.shape != (n, 1, *self.x.shape[2:])
        ):
            raise ValueError(
                f"needed must be a Tensor [{n}, 1, {self.x.shape[2]}, {self.x.shape[3]}] or None, "
                f"got {_shape(self.needed)}"
            )
        ids = tuple(str(i) for i in range(n)) if self.ids is None else tuple(self.ids)
        if len(ids) != n or not all(isinstance(i, str) for i in ids) or len(set(ids)) != n:
            raise ValueError(f"ids must be {n} distinct strings, got {list(ids)[:10]}")
        self.ids = ids

    def __len__(self) -> int:
        return len(self.x)

    @classmethod
    def from_explanation(
        cls,
        explanation: Explanation,
        class_names: Sequence[str],
        needed: Tensor | None = None,
        reliable: bool = False,
        ids: Sequence[str] | None = None,
    ) -> TeacherQueue:
        """The CEs of an explanation (its reliable CEs with ``reliable=True``)."""
        x_cf = explanation.x_reliable if reliable else explanation.x_cf
        if x_cf is None:
            raise ValueError("the explanation has no reliable CEs (x_reliable); use reliable=False")
        return cls(
            explanation.x, x_cf, explanation.source, explanation.target, class_names, needed, ids
        )


@runtime_checkable
class Teacher(Protocol):
    """Anything that labels a queue of CEs: ``[N]`` int64 class indices, the source class
    for a CE whose change is a shortcut."""

    def label(self, queue: TeacherQueue) -> Tensor: ...


class RuleTeacher:
    """A rule's label of each CE: the argmax of ``rule(x_cf)`` (logits or probabilities
    ``[B, K]``; the argmax is the same for either), in batches without gradients."""

    def __init__(self, rule: Callable[[Tensor], object], batch_size: int = 256) -> None:
        _check(rule, batch_size, "rule")
        self.rule = rule
        self.batch_size = batch_size

    def label(self, queue: TeacherQueue) -> Tensor:
        return _argmax(self.rule, queue, self.batch_size, queue.x_cf.device, "rule teacher")


class ModelTeacher:
    """An oracle classifier's label of each CE: the argmax of ``model(x_cf)``, in batches
    without gradients, in eval mode (restored afterwards) on the model's device."""

    def __init__(self, model: Callable[[Tensor], object], batch_size: int = 256) -> None:
        _check(model, batch_size, "model")
        self.model = model
        self.batch_size = batch_size

    def label(self, queue: TeacherQueue) -> Tensor:
        model = self.model
        if not isinstance(model, nn.Module):
            return _argmax(model, queue, self.batch_size, queue.x_cf.device, "teacher model")
        param = next(model.parameters(), None)
        device = param.device if param is not None else queue.x_cf.device
        was_training = model.training
        model.eval()
        try:
            return _argmax(model, queue, self.batch_size, device, "teacher model")
        finally:
            model.train(was_training)


def _check(fn: object, batch_size: int, what: str) -> None:
    if not callable(fn):
        raise ValueError(f"{what} must be callable: images [B, C, H, W] -> outputs [B, K]")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")


@torch.no_grad()
def _argmax(
    fn: Callable[[Tensor], object],
    queue: TeacherQueue,
    batch_size: int,
    device: torch.device,
    role: str,
) -> Tensor:
    """``fn``'s argmax class on every CE of ``queue`` (int64 ``[N]`` on the CPU)."""
    k = len(queue.class_names)
    labels = []
    for start in range(0, len(queue), batch_size):
        batch = queue.x_cf[start : start + batch_size].to(device)
        with model_errors(role, batch):
            out = as_tensor_outputs(fn(batch), where=role)
        if out.shape != (len(batch), k):
            raise ValueError(
                f"the {role} must return [B, K] = [{len(batch)}, {k}] outputs (one per class "
                f"name), got shape {tuple(out.shape)}"
            )
        check_finite(out, role, fn, "labelling the CEs")  # a NaN's argmax is no label
        labels.append(out.argmax(dim=1).cpu())
    return torch.cat(labels) if labels else torch.zeros(0, dtype=torch.int64)


def _shape(value: object) -> str:
    return f"shape {tuple(value.shape)}" if isinstance(value, Tensor) else type(value).__name__
