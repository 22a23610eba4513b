"""Teachers that judge counterfactuals: a rule, an oracle model, or a person.

A teacher labels each CE with the class it really shows. Counterfactual knowledge distillation
(CFKD) then trains on those labels: a CE whose change is a shortcut (a confounder the
classifier relies on) keeps its source label, so the student learns to ignore that change.
The person's teacher, :class:`leapfactual.audit.teacher_server.HumanTeacher`, serves a local
web page; the rule and the model here label every CE by the argmax of their outputs.
:class:`IgnoreTeacher` is a rule without code: the classifier itself, shown each CE with a
region (a mask, a box, or the audit's shortcut candidate) and global edits reverted to the
input, i.e. "this part of the image is irrelevant".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from leapfactual.audit.edits import EDITS, edit_parts, fit_edits
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


class IgnoreTeacher:
    """The label ``model`` gives each CE once the ``mask`` ``[H, W]`` (bool: the pixels that do
    not matter) is put back to the input and the global ``edits`` of its change are taken out
    (:mod:`~leapfactual.audit.edits`): a rule that a region or an edit is irrelevant, without
    code. A CE that needed only that part goes back to its source class."""

    def __init__(
        self,
        model: Callable[[Tensor], object],
        mask: Tensor | None = None,
        edits: Sequence[str] = (),
        batch_size: int = 256,
    ) -> None:
        _check(model, batch_size, "model")
        unknown = [e for e in edits if e not in EDITS]
        if unknown:
            raise ValueError(f"unknown global edits {unknown}; choose from {list(EDITS)}")
        if mask is not None and (
            not isinstance(mask, Tensor) or mask.dtype != torch.bool or mask.dim() != 2
        ):
            raise ValueError(f"mask must be a bool Tensor [H, W], got {_shape(mask)}")
        if mask is None and not edits:
            raise ValueError("the ignore rule needs a region (mask) or global edits to ignore")
        self.model = model
        self.mask = mask
        self.edits = tuple(edits)
        self.batch_size = batch_size

    def shown(self, queue: TeacherQueue) -> Tensor:
        """What the model is shown: each CE with the ignored parts reverted to its input."""
        x, x_cf = queue.x.detach().cpu(), queue.x_cf.detach().cpu()
        if self.mask is not None:
            if self.mask.shape != x.shape[-2:]:
                raise ValueError(
                    f"the ignored region is {tuple(self.mask.shape)} pixels, the images "
                    f"{tuple(x.shape[-2:])}; give a mask of the run's image size"
                )
            x_cf = torch.where(self.mask.cpu(), x, x_cf)
        if self.edits:
            part = edit_parts(x, fit_edits(x, x_cf), self.edits).sum(dim=1)
            low, high = torch.minimum(x, x_cf), torch.maximum(x, x_cf)
            x_cf = torch.minimum(torch.maximum(x_cf - part, low), high)
        return x_cf

    def label(self, queue: TeacherQueue) -> Tensor:
        shown = TeacherQueue(
            queue.x, self.shown(queue), queue.source, queue.target, queue.class_names
        )
        return ModelTeacher(self.model, self.batch_size).label(shown)


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
