"""open_explanation: a saved explanation checked once, then read by rows on demand."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from leapfactual.explain import Cost, Explanation, open_explanation
from leapfactual.io import CheckpointError


def saved(tmp_path: Path, n: int = 9) -> Explanation:
    g = torch.Generator().manual_seed(0)
    probs = torch.rand(n, 3, generator=g).softmax(1)
    exp = Explanation(
        method="test",
        x=torch.rand(n, 1, 4, 4, generator=g),
        x_cf=torch.rand(n, 1, 4, 4, generator=g),
        source=probs.argmax(1),
        target=torch.arange(n) % 3,
        probs=probs,
        probs_cf=torch.rand(n, 3, generator=g).softmax(1),
        probs_reliable=torch.rand(n, 3, generator=g).softmax(1),
        steps=torch.arange(n),
        cost=Cost(n=n, classifier=4 * n, seconds=1.5),
        config={"inputs": [f"img{i}.png" for i in range(n)], "blend": {"gamma": 0.1}},
    )
    exp.save(tmp_path)
    return exp


def assert_equal(a: Explanation, b: Explanation) -> None:
    assert a.tensors().keys() == b.tensors().keys()
    for key, value in a.tensors().items():
        assert torch.equal(getattr(b, key), value), key
    assert (a.method, a.cost, a.config, a.tolerance) == (b.method, b.cost, b.config, b.tolerance)


@pytest.mark.parametrize("index", [slice(2, 7), slice(None, None, -2), 4, [8, 0, 3, 3], "mask"])
def test_rows_read_on_demand_equal_the_rows_of_the_full_load(tmp_path: Path, index) -> None:
    saved(tmp_path)
    full = Explanation.load(tmp_path)
    index = full.target == 1 if index == "mask" else index
    stored = open_explanation(tmp_path)
    assert_equal(full[index], stored[index])
    assert_equal(full, stored.load())
    assert len(stored) == len(full) and stored.names == list(full.tensors())
    assert torch.equal(stored.valid, full.valid)
    assert full.valid_reliable is not None and stored.valid_reliable is not None
    assert torch.equal(stored.valid_reliable, full.valid_reliable)
    assert torch.equal(stored.column("steps", slice(1, 3)), full.steps[1:3])


def test_a_damaged_or_edited_explanation_is_refused_before_use(tmp_path: Path) -> None:
    saved(tmp_path)
    path = tmp_path / "explanation.safetensors"
    raw = bytearray(path.read_bytes())
    raw[-4:] = bytes(4)
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=r"explanation.safetensors does not have the SHA"):
        open_explanation(tmp_path)
    saved(tmp_path)
    sidecar = tmp_path / "explanation.json"
    sidecar.write_text(sidecar.read_text().replace('"method": "test"', '"method": 3'))
    with pytest.raises(CheckpointError, match=r"not a valid explanation \(no 'method' name\)"):
        open_explanation(tmp_path)
    with pytest.raises(CheckpointError, match="does not exist"):
        open_explanation(tmp_path / "nowhere")
