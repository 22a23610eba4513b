"""The builders' batched helpers."""

import torch
import toys

from leapfactual.pipeline.build import predict_probs


def test_predict_probs_batches() -> None:
    x, _ = toys.toy_points(10)
    probs = predict_probs(toys.quadrant, x, batch=3)
    assert torch.equal(probs.argmax(1), toys.quadrant(x).argmax(1))
    assert torch.allclose(probs.sum(1), torch.ones(10))
