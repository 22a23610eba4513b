import pytest
import torch

from leapfactual.explain import PixelAttack
from leapfactual.explain.base import (
    as_target,
    as_value_target,
    check_inputs,
    check_probabilities,
    check_rows,
    log_probs,
    model_errors,
    seeded,
)
from leapfactual.testing import images, stand_ins


def test_log_probs_stay_finite_where_probabilities_underflow() -> None:
    logits = torch.tensor([[0.0, -200.0, 200.0]])
    logp = log_probs(logits, "logits")
    assert torch.isfinite(logp).all() and torch.allclose(logp, logits.log_softmax(dim=1))
    probs = torch.tensor([[0.0, 0.25, 0.75]])
    assert torch.isfinite(log_probs(probs, "probs")).all()
    with pytest.raises(ValueError, match=r"\[B, K\]"):
        log_probs(torch.zeros(3), "logits")


def test_model_errors_become_value_errors_naming_the_batch() -> None:
    x = torch.zeros(2, 5)
    message = r"the encoder failed on a batch of shape \(2, 5\)"
    with pytest.raises(ValueError, match=message), model_errors("encoder", x):
        torch.nn.Linear(4, 1)(x)
    with pytest.raises(KeyError), model_errors("encoder", x):
        raise KeyError("not a model-input problem")
    with pytest.raises(torch.OutOfMemoryError), model_errors("encoder", x):
        raise torch.OutOfMemoryError("out of memory")


def test_seeded_blocks_repeat_and_leave_the_callers_stream_alone() -> None:
    state = torch.get_rng_state()
    with seeded(5, torch.device("cpu")):
        a = torch.rand(3)
    with seeded(5, torch.device("cpu")):
        b = torch.rand(3)
    assert torch.equal(a, b) and torch.equal(torch.get_rng_state(), state)
    with seeded(None, torch.device("cpu")):
        torch.rand(1)
    assert not torch.equal(torch.get_rng_state(), state)


# -- the API refuses what the command line refuses ------------------------------------------
def _attack(classifier: object = None, outputs: str = "logits") -> PixelAttack:
    models = stand_ins()
    return PixelAttack(classifier or models.classifier, max_steps=2, outputs=outputs)  # type: ignore[arg-type]


def test_inputs_must_be_dense_real_tensors() -> None:
    x = images(2)
    for bad, says in (
        (x.to_sparse(), r"dense tensor of values .* got layout torch\.sparse_coo"),
        (torch.empty(2, 1, 8, 8, device="meta"), r"got a meta tensor \(shapes only"),
        (torch.complex(x, x), r"real float tensor .* got dtype torch\.complex64"),
    ):
        with pytest.raises(ValueError, match=says):
            check_inputs(bad)
    check_inputs(x)
    check_inputs(x.transpose(2, 3))  # a non-contiguous (strided) view is fine


def test_integer_targets_must_fit_64_bits() -> None:
    with pytest.raises(ValueError, match=r"target 9223372036854775808 is no class index"):
        as_target(2**63, 3)
    with pytest.raises(ValueError, match=r"no class index"):
        _attack().explain(images(2), -(2**63) - 1)
    assert as_target(2**63 - 1, 2).tolist() == [2**63 - 1] * 2  # in range: its own check next
    with pytest.raises(ValueError, match=r"finite numbers"):
        as_value_target(2**1100, 2)  # too large even for a float
    assert as_value_target(2**63, 1).tolist() == [float(2**63)]


def test_a_classifier_must_return_one_row_per_input() -> None:
    models = stand_ins()

    def first_row(x: torch.Tensor) -> torch.Tensor:
        return models.classifier(x)[:1]

    message = (
        r"the classifier \(function\) returned shape \(1, 3\) "
        r"for a batch of 2 inputs; it must return one row per input"
    )
    with pytest.raises(ValueError, match=message):
        _attack(first_row).explain(images(2), 1)
    with pytest.raises(ValueError, match=r"returned shape \(\) for a batch of 2"):
        check_rows(torch.tensor(1.0), 2, "classifier", first_row)
    assert len(_attack().explain(images(2), 1)) == 2


def test_declared_probabilities_are_checked() -> None:
    models = stand_ins()
    message = (
        r"declared to return probabilities \(outputs='probs'\), "
        r"but its output for 2 of 2 samples is not: row 0 sums to"
    )
    with pytest.raises(ValueError, match=message):
        _attack(outputs="probs").explain(images(2), 1)  # logits, declared as probabilities
    with pytest.raises(ValueError, match=r"values in \[-0\.5, 1\.5\]"):
        check_probabilities(torch.tensor([[-0.5, 1.5]]))

    def softmax(x: torch.Tensor) -> torch.Tensor:
        return models.classifier(x).softmax(dim=1)

    assert len(_attack(softmax, "probs").explain(images(2), 1)) == 2
    probs = torch.tensor([[0.2, 0.8], [float("nan"), 0.0]])  # a NaN row: the finite check's
    assert check_probabilities(probs) is probs
