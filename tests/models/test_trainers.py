import inspect
from pathlib import Path

import pytest
import torch

from leapfactual.io import CheckpointError
from leapfactual.models import (
    CNNClassifier,
    ConditionalVAE,
    ConvVAE,
    accuracy,
    random_shift,
    train_classifier,
    train_cvae,
    train_regressor,
    train_vae,
)


def bars(n: int = 256, size: int = 12, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Images with one bright bar: class 0 horizontal, class 1 vertical, at a random place."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    pos = torch.randint(2, size - 2, (n,), generator=gen)
    x = torch.zeros(n, 1, size, size)
    for i in range(n):
        if labels[i] == 0:
            x[i, 0, pos[i], 2:-2] = 1.0
        else:
            x[i, 0, 2:-2, pos[i]] = 1.0
    return x + 0.05 * torch.rand(x.shape, generator=gen), labels


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return all(torch.equal(sa[k], sb[k]) for k in sa)


def make_vae(size: int = 12) -> ConvVAE:
    torch.manual_seed(0)
    return ConvVAE(1, size, latent_dim=8, width=8)


def test_vae_loss_falls_and_training_is_deterministic() -> None:
    x, _ = bars()
    a, b = make_vae(), make_vae()
    history = train_vae(a, x, epochs=3, batch_size=32, lr=3e-3, seed=1)
    assert history[-1] < 0.7 * history[0]
    assert train_vae(b, x, epochs=3, batch_size=32, lr=3e-3, seed=1) == history
    assert same_weights(a, b)
    assert not a.training


def test_vae_accepts_uint8_images() -> None:
    x, _ = bars(64)
    as_uint8 = (x.clamp(0, 1) * 255).round().to(torch.uint8)
    a, b = make_vae(), make_vae()
    train_vae(a, as_uint8, epochs=1, batch_size=32, lr=2e-3, seed=0)
    train_vae(b, as_uint8.float() / 255, epochs=1, batch_size=32, lr=2e-3, seed=0)
    assert same_weights(a, b)


def test_vae_training_resumes_bit_identically(tmp_path: Path) -> None:
    x, _ = bars(128)
    straight = make_vae()
    history = train_vae(straight, x, epochs=3, batch_size=32, lr=2e-3, seed=0)
    train_vae(make_vae(), x, epochs=1, batch_size=32, lr=2e-3, seed=0, checkpoint=tmp_path)
    resumed = make_vae()
    assert (
        train_vae(resumed, x, epochs=3, batch_size=32, lr=2e-3, seed=0, checkpoint=tmp_path)
        == history
    )
    assert same_weights(straight, resumed)
    with pytest.raises(CheckpointError, match="batch_size"):
        train_vae(make_vae(), x, epochs=4, batch_size=16, lr=2e-3, seed=0, checkpoint=tmp_path)
    torch.manual_seed(0)
    with pytest.raises(CheckpointError, match="beta"):
        train_vae(
            ConvVAE(1, 12, 8, 8, beta=0.1),
            x,
            epochs=4,
            batch_size=32,
            lr=2e-3,
            seed=0,
            checkpoint=tmp_path,
        )


def test_cvae_trains_on_soft_conditions() -> None:
    x, labels = bars(128)
    cond = torch.softmax(3 * torch.eye(2)[labels], dim=1)
    torch.manual_seed(0)
    cvae = ConditionalVAE(1, 12, latent_dim=4, num_classes=2, width=8)
    history = train_cvae(cvae, x, cond, epochs=2, batch_size=32, lr=3e-3, seed=0)
    assert len(history) == 2 and history[-1] < history[0]
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        train_cvae(cvae, x, labels, epochs=1, batch_size=64, lr=2e-3, seed=0)


def test_classifier_learns_a_separable_task() -> None:
    x, labels = bars(256)
    test_x, test_labels = bars(128, seed=1)
    torch.manual_seed(0)
    model = CNNClassifier(1, 12, num_classes=2, width=8, hidden=32)
    history = train_classifier(
        model, x, labels, epochs=4, batch_size=32, lr=5e-3, augment=2, seed=0
    )
    assert history[-1] < history[0]
    assert accuracy(model, test_x, test_labels) >= 0.95


def test_classifier_training_is_deterministic_with_augmentation() -> None:
    x, labels = bars(64)

    def run(seed: int) -> CNNClassifier:
        torch.manual_seed(0)
        model = CNNClassifier(1, 12, num_classes=2, width=4, hidden=8)
        train_classifier(model, x, labels, epochs=1, batch_size=16, augment=2, seed=seed, lr=2e-3)
        return model

    assert same_weights(run(0), run(0))
    assert not same_weights(run(0), run(1))


def test_classifier_arguments_are_checked() -> None:
    model = CNNClassifier(1, 12, num_classes=2, width=4)
    x, labels = bars(8)
    with pytest.raises(ValueError, match="integer class indices"):
        train_classifier(
            model, x, labels.float(), epochs=1, batch_size=64, lr=2e-3, seed=0, augment=2
        )
    with pytest.raises(ValueError, match="augment"):
        train_classifier(model, x, labels, epochs=1, augment=-1, batch_size=64, lr=2e-3, seed=0)


def test_random_shift_moves_each_image_by_at_most_the_maximum() -> None:
    x = torch.zeros(200, 2, 9, 9)
    x[:, :, 4, 4] = 1.0
    out = random_shift(x, 2, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert torch.equal(out[:, 0], out[:, 1])  # channels move together
    where = out[:, 0].flatten(1).argmax(1)
    rows, cols = where // 9, where % 9
    assert out.sum() == x.sum()
    assert set(rows.tolist()) == set(range(2, 7)) and set(cols.tolist()) == set(range(2, 7))
    same = random_shift(x, 2, torch.Generator().manual_seed(0))
    assert torch.equal(out, same)
    assert torch.equal(random_shift(x, 0, torch.Generator()), x)


def test_accuracy_works_on_any_callable_and_restores_the_mode() -> None:
    x = torch.rand(10, 1, 4, 4)
    labels = torch.tensor([0, 1] * 5)

    def rule(images: torch.Tensor) -> torch.Tensor:
        return torch.stack([torch.ones(len(images)), torch.zeros(len(images))], dim=1)

    assert accuracy(rule, x, labels, batch_size=3) == 0.5
    model = CNNClassifier(1, 4, num_classes=2, width=2).train()
    accuracy(model, x, labels)
    assert model.training
    with pytest.raises(ValueError, match="as many labels"):
        accuracy(rule, x, labels[:3])


def test_trainers_take_the_model_and_data_positionally_and_the_rest_by_keyword() -> None:
    """``train_*(model, data, *, ...)``: the training numbers have no defaults of their own
    (the settings hold them), so none can differ from the settings'."""
    required = {"epochs", "batch_size", "lr", "seed"}
    expected = {
        train_vae: (["model", "images"], required),
        train_cvae: (["model", "images", "conditions"], required),
        train_classifier: (["model", "images", "labels"], required | {"augment"}),
        train_regressor: (["model", "images", "values"], required | {"augment"}),
    }
    for fn, (data, needed) in expected.items():
        params = inspect.signature(fn).parameters.values()
        assert [p.name for p in params if p.kind is not p.KEYWORD_ONLY] == data, fn.__name__
        without = {p.name for p in params if p.default is p.empty and p.kind is p.KEYWORD_ONLY}
        assert without == needed, fn.__name__
    with pytest.raises(TypeError, match="positional"):
        train_vae(ConvVAE(1, 8, 2, 4), torch.rand(4, 1, 8, 8), 1, 4, 1e-3, 0)  # type: ignore[misc]
