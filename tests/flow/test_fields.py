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


def test_the_split_first_layer_is_the_layer_on_the_concatenation() -> None:
    torch.manual_seed(0)
    field = MLPField(latent_dim=4, cond_dim=3, width=8)
    z, t = torch.randn(5, 4), torch.rand(5)
    cond = torch.softmax(torch.randn(5, 3), dim=1)
    whole = field.net(torch.cat([z, cond, t[:, None]], dim=1))  # the paper's MLP as written
    assert torch.allclose(field(t, z, cond), whole, atol=1e-6)
    assert torch.allclose(field.conditioned(cond)(t, z), whole, atol=1e-6)
    other = field.conditioned(torch.softmax(torch.randn(5, 3), dim=1))(t, z)
    assert not torch.allclose(other, whole, atol=1e-3)  # the term carries the condition


def test_conditioned_validates_the_condition_once_with_the_same_error() -> None:
    field = MLPField(latent_dim=4, cond_dim=3, width=8)
    bad = torch.zeros(5, 2)
    with pytest.raises(ValueError, match=r"need \[B, 3\] float; got shape \(5, 2\)") as direct:
        field(torch.tensor(0.5), torch.zeros(5, 4), bad)
    with pytest.raises(ValueError) as bound:
        field.conditioned(bad)
    assert str(bound.value) == str(direct.value)
    calls = []
    field.register_forward_pre_hook(lambda _m, args: calls.append(args[1].shape[0]))
    velocity = field.conditioned(torch.full((5, 3), 1 / 3))
    velocity(torch.tensor(0.1), torch.zeros(5, 4))
    velocity(torch.tensor(0.2), torch.zeros(5, 4))
    assert calls == [5, 5]  # every evaluation still runs the module (the cost's hook counts it)
