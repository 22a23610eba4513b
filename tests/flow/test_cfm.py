import inspect

import pytest
import torch

from leapfactual.flow import GaussianSource, MLPField, UniformSource, cfm_loss, ot_pair, train_flow


def two_blobs(n: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(n) % 2
    z = torch.randn(n, 4, generator=gen) * 0.3 + (labels.float() * 4 - 2).unsqueeze(1)
    return z, labels


def test_loss_falls_during_training() -> None:
    z, labels = two_blobs()
    torch.manual_seed(0)
    field = MLPField(4, 2, width=32, depth=2, condition="onehot")
    history = train_flow(
        field, z, field.condition.from_labels(labels), epochs=15, batch_size=256, lr=5e-3, seed=0
    )
    assert len(history) == 15
    assert history[-1] < 0.6 * history[0]


def test_training_is_deterministic_with_a_seed() -> None:
    z, labels = two_blobs(256)

    def run() -> dict[str, torch.Tensor]:
        torch.manual_seed(3)
        field = MLPField(4, 2, width=16, depth=2, condition="class")
        train_flow(
            field, z, labels, epochs=3, batch_size=256, lr=5e-3, seed=7, coupling="ot", sigma=1e-4
        )
        return field.state_dict()

    a, b = run(), run()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_loss_matches_definition_at_known_field() -> None:
    """A field that always returns zero has loss mean((z1 - z0)^2)."""

    class Zero(MLPField):
        def forward(self, t, z, cond):  # type: ignore[no-untyped-def]
            return torch.zeros_like(z)

    field = Zero(3, 2)
    z1 = torch.ones(4096, 3)
    loss = cfm_loss(
        field,
        z1,
        field.condition.from_labels(torch.zeros(4096, dtype=torch.long)),
        torch.Generator().manual_seed(0),
        GaussianSource(),
    )
    assert float(loss) == pytest.approx(2.0, rel=0.05)  # E[(1 - N(0,1))^2] = 1 + 1


def test_uniform_source_stays_in_box() -> None:
    z = UniformSource(-0.5, 0.5).sample(1000, 2, torch.Generator().manual_seed(0), torch.zeros(1))
    assert z.min() >= -0.5 and z.max() <= 0.5


def test_ot_pairing_lowers_transport_cost() -> None:
    gen = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(64, 2, generator=gen), torch.randn(64, 2, generator=gen) + 3
    paired = ot_pair(z0, z1)
    assert (paired - z1).pow(2).sum() < (z0 - z1).pow(2).sum()
    assert torch.equal(paired.sort(dim=0).values, z0.sort(dim=0).values)


def test_unknown_coupling_is_refused() -> None:
    field = MLPField(2, 2)
    with pytest.raises(ValueError, match="coupling"):
        cfm_loss(
            field,
            torch.zeros(2, 2),
            field.condition.from_labels(torch.tensor([0, 1])),
            torch.Generator(),
            coupling="sinkhorn",
        )  # type: ignore[arg-type]


def test_train_flow_takes_the_field_and_data_positionally_and_the_rest_by_keyword() -> None:
    params = inspect.signature(train_flow).parameters.values()
    assert [p.name for p in params if p.kind is not p.KEYWORD_ONLY] == [
        "field",
        "latents",
        "conditions",
    ]
    required = {p.name for p in params if p.default is p.empty and p.kind is p.KEYWORD_ONLY}
    assert required == {"epochs", "batch_size", "lr", "seed"}  # the settings hold them
    field = MLPField(4, 2, width=8, depth=1, condition="class")
    with pytest.raises(TypeError, match="positional"):
        train_flow(field, torch.randn(8, 4), torch.arange(8) % 2, 1, 8, 1e-3)  # type: ignore[misc]
