import json

import pytest
import torch

from leapfactual.flow import MLPField, load_field, save_field
from leapfactual.io import CheckpointError


def test_reference_shapes() -> None:
    field = MLPField(32, 10, width=64, depth=3)
    linears = [m for m in field.net if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (43, 64),
        (64, 64),
        (64, 64),
        (64, 32),
    ]
    out = field(torch.tensor(0.5), torch.zeros(5, 32), torch.full((5, 10), 0.1))
    assert out.shape == (5, 32)


def test_time_per_sample_or_scalar_agree() -> None:
    field = MLPField(3, 2, condition="class")
    z, c = torch.randn(4, 3), torch.tensor([0, 1, 0, 1])
    assert torch.equal(field(torch.tensor(0.3), z, c), field(torch.full((4,), 0.3), z, c))


def test_save_load_round_trip(tmp_path) -> None:
    field = MLPField(5, 3, width=16, depth=2, activation="silu", condition="onehot")
    save_field(field, tmp_path / "flow")
    loaded = load_field(tmp_path / "flow")
    assert loaded.config == field.config
    assert loaded.condition == field.condition
    assert all(
        torch.equal(a, b)
        for a, b in zip(field.state_dict().values(), loaded.state_dict().values(), strict=True)
    )


def test_load_refuses_unknown_type(tmp_path) -> None:
    save_field(MLPField(2, 2), tmp_path / "flow")
    meta = json.loads((tmp_path / "flow.json").read_text())
    meta["type"] = "EvilField"
    (tmp_path / "flow.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="unknown module type"):
        load_field(tmp_path / "flow")


def test_unknown_activation_is_named() -> None:
    with pytest.raises(ValueError, match="unknown activation"):
        MLPField(2, 2, activation="gelu")
