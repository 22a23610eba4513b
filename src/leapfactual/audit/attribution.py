"""Counterfactuals as attributions, in Captum's call shape.

:class:`CounterfactualAttribution` wraps any explainer so that attribution tools built around
Captum (its metrics, its visualisation, Quantus through its ``explain_func``) can take a
counterfactual as they take Integrated Gradients:
``attribute(inputs, target) -> Tensor`` shaped like ``inputs``.

- ``kind="change"``: the signed change toward the target, ``x' - x``.
- ``kind="necessity"``: how much of the change the classifier needs, each changed pixel
  painted with its region's drop in target probability when the region is reverted
  (:func:`~leapfactual.audit.necessity.necessity_map`), repeated over the channels.

``target`` is the class each CE should reach (Captum's ``target``: one index, or one per
input). A CE that does not reach it is no explanation: its attribution is zero unless
``invalid="keep"``; :attr:`CounterfactualAttribution.last` holds the last
:class:`~leapfactual.explain.Explanation` (validity, probabilities) for inspection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, get_args, overload

import torch
from torch import Tensor

from leapfactual.audit.necessity import necessity, necessity_map
from leapfactual.explain import Explainer, Explanation

Kind = Literal["change", "necessity"]
Invalid = Literal["zero", "keep"]
Target = int | Sequence[int] | Tensor | None


class CounterfactualAttribution:
    """An explainer with Captum's attribution call: ``attribute(inputs, target)``.

    Args:
        explainer: any explainer (``run.explainer()``, ``LeapFactual(...)``, a baseline).
        kind: ``"change"`` (``x' - x``) or ``"necessity"`` (the needed part of the change).
        invalid: ``"zero"`` (default): CEs that miss their target attribute nothing;
            ``"keep"``: their change is returned as for the others.
        reliable: use the reliable CE (LeapFactual with injection) where the explanation
            has one.
    """

    multiplies_by_inputs = False
    """Captum's flag: the attribution is not multiplied by the inputs."""

    def __init__(
        self,
        explainer: Explainer,
        kind: Kind = "change",
        invalid: Invalid = "zero",
        reliable: bool = False,
    ) -> None:
        if not isinstance(explainer, Explainer):
            raise ValueError(
                f"explainer must be a leapfactual Explainer (run.explainer(), LeapFactual(...)), "
                f"got {type(explainer).__name__}"
            )
        if explainer.outputs == "value":
            raise ValueError(
                "attributions toward a class need a classifier; this explainer explains a "
                "regressor (outputs='value')"
            )
        if kind not in get_args(Kind):
            raise ValueError(f"kind must be one of {get_args(Kind)}, got {kind!r}")
        if invalid not in get_args(Invalid):
            raise ValueError(f"invalid must be one of {get_args(Invalid)}, got {invalid!r}")
        self.explainer = explainer
        self.kind = kind
        self.invalid = invalid
        self.reliable = reliable
        self.last: Explanation | None = None

    @property
    def forward_func(self) -> object:
        """The explained classifier (Captum's name for the model)."""
        return self.explainer.classifier

    def has_convergence_delta(self) -> bool:
        """Captum's question; a counterfactual has no convergence delta."""
        return False

    @overload
    def attribute(self, inputs: Tensor, target: Target = None, **_: object) -> Tensor: ...

    @overload
    def attribute(
        self, inputs: tuple[Tensor], target: Target = None, **_: object
    ) -> tuple[Tensor]: ...

    def attribute(
        self, inputs: Tensor | tuple[Tensor], target: Target = None, **_: object
    ) -> Tensor | tuple[Tensor]:
        """The attribution of each input toward its ``target`` class, shaped like ``inputs``
        (a one-tensor tuple, as Captum's metrics pass, gives a one-tensor tuple).

        Captum's other keywords (``baselines``, ``additional_forward_args``, ...) are accepted
        and ignored: a counterfactual needs no baseline.
        """
        if isinstance(inputs, tuple) and len(inputs) == 1:
            return (self.attribute(inputs[0], target),)
        if target is None:
            raise ValueError(
                "target is required: the class each counterfactual should reach (one index, "
                "or one per input)"
            )
        if not isinstance(inputs, Tensor):
            raise ValueError(
                f"inputs must be a tensor [B, C, H, W] (or a tuple of one), got "
                f"{type(inputs).__name__}"
            )
        targets = target if isinstance(target, (int, Tensor)) else torch.as_tensor(list(target))
        exp = self.explainer.explain(inputs, targets)
        self.last = exp
        x_cf, valid = exp.x_cf, exp.valid
        if self.reliable and exp.x_reliable is not None and exp.valid_reliable is not None:
            x_cf, valid = exp.x_reliable, exp.valid_reliable
        if self.kind == "change":
            out = x_cf - exp.x
        else:
            audit = necessity(
                self.explainer.classifier,
                exp.x,
                x_cf,
                exp.target,
                exp.source,
                outputs=self.explainer.outputs,
                batch_size=self.explainer.batch_size,
            )
            out = necessity_map(audit).to(exp.x.device, exp.x.dtype).expand_as(exp.x)
        if self.invalid == "zero":
            out = out * valid.to(out.device, out.dtype).view(-1, *[1] * (out.dim() - 1))
        return out.detach().to(inputs.dtype).contiguous()
