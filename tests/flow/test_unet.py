import torch

from leapfactual.flow import Solver, UNet1DField, leap, load_field, save_field, train_flow


def test_shapes_for_odd_and_large_latents() -> None:
    for latent in (7, 64, 512):
        field = UNet1DField(latent, 3, width=8, depth=3)
        out = field(torch.tensor(0.2), torch.randn(2, latent), torch.tensor([0, 2]))
        assert out.shape == (2, latent)


def test_condition_changes_the_velocity() -> None:
    torch.manual_seed(0)
    field = UNet1DField(16, 4, width=8, depth=2, condition="softmax")
    z = torch.randn(3, 16)
    a = field(torch.tensor(0.5), z, field.condition.from_labels(torch.tensor([0, 0, 0])))
    b = field(torch.tensor(0.5), z, field.condition.from_labels(torch.tensor([1, 1, 1])))
    assert not torch.allclose(a, b)


def test_trains_saves_and_leaps(tmp_path) -> None:
    torch.manual_seed(0)
    labels = torch.arange(128) % 2
    z = torch.randn(128, 24) * 0.2 + labels.float().unsqueeze(1) * 2
    field = UNet1DField(24, 2, width=8, depth=2)
    history = train_flow(field, z, labels, epochs=6, batch_size=32, lr=2e-3, seed=0)
    assert history[-1] < history[0]
    save_field(field, tmp_path / "unet")
    loaded = load_field(tmp_path / "unet")
    assert isinstance(loaded, UNet1DField)
    with torch.no_grad():
        a = leap(field, z[:4], labels[:4], 1 - labels[:4], 0.5, 0.5, Solver("euler", 4))
        b = leap(loaded, z[:4], labels[:4], 1 - labels[:4], 0.5, 0.5, Solver("euler", 4))
    assert torch.allclose(a, b, atol=1e-6)
