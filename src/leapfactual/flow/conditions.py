"""Condition encodings: how a classifier's output becomes the flow's condition.

CE-CFM conditions the flow on the *classifier's* output. The encoding chosen at training time
(soft probabilities, hard one-hot, an integer class or a scalar) must be used again at
explanation time, so it is stored with the trained field as a :class:`ConditionSpec`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from torch import Tensor

ConditionKind = Literal["softmax", "onehot", "class", "scalar"]
KINDS: tuple[str, ...] = ("softmax", "onehot", "class", "scalar")


@dataclass(frozen=True)
class ConditionSpec:
    """How conditions are encoded.

    - ``softmax``: the classifier's probabilities, a float vector of ``num_classes``.
    - ``onehot``: one-hot of the classifier's argmax, a float vector of ``num_classes``.
    - ``class``: the argmax as an integer (tensor of shape ``[B]``, dtype long).
    - ``scalar``: the argmax as one float (shape ``[B, 1]``).

    Targets are class indices; they encode as one-hot for ``softmax`` / ``onehot`` (a fully
    confident classifier), as the index for ``class`` and as its float for ``scalar``.
    """

    kind: ConditionKind
    num_classes: int

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown condition encoding {self.kind!r}; choose one of {KINDS}")
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {self.num_classes}")

    @property
    def feature_dim(self) -> int:
        """Width of the float features a vector field receives for this condition."""
        return 1 if self.kind == "scalar" else self.num_classes

    def from_probs(self, probs: Tensor) -> Tensor:
        """Encode classifier probabilities ``[B, K]`` as conditions."""
        self._check_probs(probs)
        if self.kind == "softmax":
            return probs
        labels = probs.argmax(dim=1)
        return self.from_labels(labels).to(probs.dtype) if self.kind != "class" else labels

    def from_labels(self, labels: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
        """Encode integer class labels ``[B]`` (e.g. targets) as conditions."""
        if labels.dim() != 1 or labels.dtype not in (torch.int64, torch.int32, torch.int16):
            raise ValueError(
                f"labels must be a 1-D integer tensor, got shape {tuple(labels.shape)} and "
                f"dtype {labels.dtype}"
            )
        if labels.numel() and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(
                f"labels must lie in [0, {self.num_classes - 1}] for this {self.num_classes}-class "
                f"flow; got values from {int(labels.min())} to {int(labels.max())}"
            )
        labels = labels.long()
        if self.kind == "class":
            return labels
        if self.kind == "scalar":
            return labels.to(dtype).unsqueeze(1)
        return torch.nn.functional.one_hot(labels, self.num_classes).to(dtype)

    def features(self, cond: Tensor, dtype: torch.dtype) -> Tensor:
        """Float features ``[B, feature_dim]`` of encoded conditions, for a vector field."""
        self.validate(cond)
        if self.kind == "class":
            return torch.nn.functional.one_hot(cond.long(), self.num_classes).to(dtype)
        return cond.to(dtype)

    def validate(self, cond: Tensor, batch: int | None = None) -> None:
        """Raise a specific ``ValueError`` unless ``cond`` is encoded as this spec says."""
        if self.kind == "class":
            ok = cond.dim() == 1 and not cond.is_floating_point()
            want = "[B] integer class indices"
        else:
            ok = cond.dim() == 2 and cond.shape[1] == self.feature_dim and cond.is_floating_point()
            want = f"[B, {self.feature_dim}] float"
        if not ok:
            raise ValueError(
                f"the flow was trained with '{self.kind}' conditions over {self.num_classes} "
                f"classes, which need {want}; got shape {tuple(cond.shape)} and dtype "
                f"{cond.dtype}. Encode conditions with the field's ConditionSpec "
                "(field.condition.from_probs / from_labels)."
            )
        if batch is not None and cond.shape[0] != batch:
            raise ValueError(f"got {cond.shape[0]} conditions for {batch} latents")

    def _check_probs(self, probs: Tensor) -> None:
        if probs.dim() != 2 or probs.shape[1] != self.num_classes:
            raise ValueError(
                f"the flow was trained on a {self.num_classes}-class classifier, but the "
                f"classifier returned outputs of shape {tuple(probs.shape)}; expected "
                f"[B, {self.num_classes}]. Use the classifier the flow was trained with."
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConditionSpec:
        return cls(kind=data["kind"], num_classes=int(data["num_classes"]))
