"""Condition encodings: how a classifier's output becomes the flow's condition.

CE-CFM conditions the flow on the *classifier's* output. The encoding chosen at training time
(soft probabilities, hard one-hot, an integer class or a scalar; a regressor's standardised
value) must be used again at explanation time, so it is stored with the trained field as a
:class:`ConditionSpec`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from leapfactual.flow.options import KINDS

ConditionKind = Literal["softmax", "onehot", "class", "scalar", "value"]


@dataclass(frozen=True)
class ConditionSpec:
    """How conditions are encoded.

    - ``softmax``: the classifier's probabilities, a float vector of ``num_classes``.
    - ``onehot``: one-hot of the classifier's argmax, a float vector of ``num_classes``.
    - ``class``: the argmax as an integer (tensor of shape ``[B]``, dtype long).
    - ``scalar``: the argmax as one float (shape ``[B, 1]``).
    - ``value``: a regressor's output ``v`` (``num_classes`` = 1) as ``(v - mean) / std``
      (shape ``[B, 1]``), ``mean`` and ``std`` those of its outputs on the training latents.

    Targets are class indices; they encode as one-hot for ``softmax`` / ``onehot`` (a fully
    confident classifier), as the index for ``class`` and as its float for ``scalar``; for
    ``value`` they are the wanted outputs, standardised like the outputs.
    """

    kind: ConditionKind
    num_classes: int
    mean: float = 0.0
    std: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in (*KINDS, "value"):
            raise ValueError(
                f"unknown condition encoding {self.kind!r}; choose one of {(*KINDS, 'value')}"
            )
        if self.kind == "value":
            scale_ok = math.isfinite(self.mean) and math.isfinite(self.std) and self.std > 0
            if self.num_classes != 1 or not scale_ok:
                raise ValueError(
                    "a 'value' condition encodes one regressor output (num_classes = 1) with a "
                    f"finite mean and a finite std > 0; got {self}"
                )
        elif self.num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {self.num_classes}")

    @classmethod
    def of_values(cls, values: Tensor) -> ConditionSpec:
        """The ``value`` encoding of a regressor whose outputs on the training data are
        ``values`` (``[N]`` or ``[N, 1]``, at least two distinct)."""
        flat = values.detach().double().reshape(-1)
        if flat.numel() < 2 or not torch.isfinite(flat).all() or float(flat.std()) == 0:
            raise ValueError(
                "a regressor's flow needs at least two distinct finite outputs on the training "
                f"data to standardise them; got {flat.numel()} values"
            )
        return cls("value", 1, float(flat.mean()), float(flat.std()))

    @property
    def feature_dim(self) -> int:
        """Width of the float features a vector field receives for this condition."""
        return 1 if self.kind in ("scalar", "value") else self.num_classes

    def from_probs(self, probs: Tensor) -> Tensor:
        """Encode classifier probabilities ``[B, K]`` (a regressor: its values ``[B, 1]``) as
        conditions."""
        self._check_probs(probs)
        if self.kind == "value":
            return (probs - self.mean) / self.std
        if self.kind == "softmax":
            return probs
        labels = probs.argmax(dim=1)
        return self.from_labels(labels).to(probs.dtype) if self.kind != "class" else labels

    def from_targets(self, target: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
        """Encode targets ``[B]`` as conditions: class labels, or a regressor's wanted values."""
        if self.kind != "value":
            return self.from_labels(target, dtype)
        if target.dim() != 1 or not target.is_floating_point():
            raise ValueError(
                f"a regressor's targets are float values [B], got shape {tuple(target.shape)} "
                f"and dtype {target.dtype}"
            )
        return ((target.double() - self.mean) / self.std).to(dtype).unsqueeze(1)

    def from_labels(self, labels: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
        """Encode integer class labels ``[B]`` (e.g. targets) as conditions."""
        if self.kind == "value":
            raise ValueError("a regressor's flow takes target values, not class labels")
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
            what = "a regressor's value" if self.kind == "value" else f"{self.num_classes} classes"
            raise ValueError(
                f"the flow was trained with '{self.kind}' conditions over {what}, which need "
                f"{want}; got shape {tuple(cond.shape)} and dtype "
                f"{cond.dtype}. Encode conditions with the field's ConditionSpec "
                "(field.condition.from_probs / from_labels)."
            )
        if batch is not None and cond.shape[0] != batch:
            raise ValueError(f"got {cond.shape[0]} conditions for {batch} latents")

    def _check_probs(self, probs: Tensor) -> None:
        if self.kind == "value" and (probs.dim() != 2 or probs.shape[1] != 1):
            raise ValueError(
                f"the flow was trained on a regressor's outputs [B, 1], got shape "
                f"{tuple(probs.shape)}. Use the regressor the flow was trained with."
            )
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
        scale = (float(data.get("mean", 0.0)), float(data.get("std", 1.0)))
        return cls(data["kind"], int(data["num_classes"]), *scale)
