"""``check_explainer`` passes a sound explainer and names the check a broken one fails."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import Tensor

from leapfactual.explain import Cost, Explainer, LatentAttack
from leapfactual.testing import CHECKS, StandIns, check_explainer


class Nudge(Explainer):
    """A minimal sound explainer: move each input a little toward a fixed image, classify.

    ``flaw`` breaks one contract on purpose."""

    name = "nudge"

    def __init__(self, classifier: Any, flaw: str = "", step: float = 0.5) -> None:
        super().__init__(classifier, None, "logits", 256, False, 0)
        self.flaw = flaw
        self.step = step

    def config(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"step": self.step}
        if self.flaw == "config":
            extra["shape"] = (1, 2)  # a tuple: not plain JSON once saved
        return {**super().config(), **extra}

    def explain_batch(
        self, x: Tensor, target: Tensor, probs: Tensor, cost: Cost
    ) -> dict[str, Tensor]:
        goal = torch.full_like(x, 0.5)
        step = self.step
        if self.flaw == "batch":  # how far depends on the rest of the batch
            step = step / len(x)
        if self.flaw == "random":  # draws from the caller's stream, unseeded
            step = step * float(torch.rand(()))
        x_cf = x + step * (goal - x)
        if self.flaw == "inplace":
            x.mul_(0.5)
        if self.flaw == "range":
            x_cf = x_cf * 3 - 1
        if self.flaw == "dtype":
            x_cf = x_cf.float()
        probs_cf = torch.softmax(self.classify(x_cf, cost), dim=1)
        if self.flaw == "weights":
            with torch.no_grad():
                next(self.classifier.parameters()).add_(1.0)  # type: ignore[attr-defined]
        return {"x_cf": x_cf, "probs_cf": probs_cf, "steps": torch.ones(len(x), dtype=torch.long)}


def nudge(flaw: str = ""):
    return lambda m: Nudge(m.classifier, flaw)


def test_a_sound_explainer_passes_every_check() -> None:
    check_explainer(nudge())
    check_explainer(lambda m: LatentAttack(m.classifier, m.codec, max_steps=4))


@pytest.mark.parametrize(
    ("flaw", "check"),
    [
        ("range", "check_fields_shapes_and_ranges"),
        ("config", "check_fields_shapes_and_ranges"),
        ("dtype", "check_dtype_and_device"),
        ("batch", "check_batches_of_one_and_many"),
        ("random", "check_batches_of_one_and_many"),
        ("inplace", "check_batches_of_one_and_many"),
        ("weights", "check_deterministic"),
    ],
)
def test_each_broken_contract_is_named(flaw: str, check: str) -> None:
    """The first check that a flaw breaks is named (a flaw may break a later one too)."""
    with pytest.raises(AssertionError, match=f"nudge fails {check}"):
        check_explainer(nudge(flaw))


def test_an_explainer_that_accepts_bad_input_fails() -> None:
    class Lenient(Nudge):
        def explain(self, x: Tensor, target: Any, diverse: int = 1) -> Any:
            if not torch.isfinite(x).all():
                x = torch.nan_to_num(x)  # hides the NaN instead of refusing it
            return super().explain(x, target, diverse)

    with pytest.raises(AssertionError, match="check_bad_input_is_named"):
        check_explainer(lambda m: Lenient(m.classifier))


def test_the_checks_are_listed_once_each() -> None:
    assert len({c.__name__ for c in CHECKS}) == len(CHECKS) == 10
    assert all(c.__doc__ for c in CHECKS)


def test_stand_ins_are_the_same_on_every_call() -> None:
    from leapfactual.testing import stand_ins

    a, b = stand_ins(), stand_ins(torch.float64)
    assert isinstance(a, StandIns) and b.dtype == torch.float64
    for pa, pb in zip(a.classifier.parameters(), b.classifier.parameters(), strict=True):
        assert torch.allclose(pa.double(), pb)
