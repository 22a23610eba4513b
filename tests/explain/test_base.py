import pytest
import torch

from leapfactual.explain.base import log_probs, model_errors, seeded


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
