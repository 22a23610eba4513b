"""The module that carries a step into DistributedDataParallel, and what DDP asks of models."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
import torch
from torch import Tensor, nn

from leapfactual.flow import MLPField, UNet1DField, train_flow
from leapfactual.models import CNNClassifier, ConditionalVAE, ConvVAE
from leapfactual.models.trainers import train_classifier, train_cvae, train_vae
from leapfactual.training.loop import StepModule


def test_the_step_is_the_forward_and_the_model_its_parameters() -> None:
    model = nn.Linear(3, 1)

    def step(batch: Sequence[Tensor], generator: torch.Generator) -> Tensor:
        return model(batch[0]).mean() + torch.rand((), generator=generator)

    runner = StepModule(model, step)
    assert list(runner.parameters()) == list(model.parameters())
    gen = torch.Generator().manual_seed(1)
    expected = model(torch.ones(2, 3)).mean() + torch.rand((), generator=gen)
    assert torch.equal(runner([torch.ones(2, 3)], gen.manual_seed(1)), expected)


def test_an_empty_part_is_an_exact_zero_that_reaches_every_parameter() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 1))
    model[0].bias.requires_grad_(False)

    def never(batch: Sequence[Tensor], generator: torch.Generator) -> Tensor:
        raise AssertionError("the step must not see an empty batch")

    loss = StepModule(model, never)([torch.zeros(0, 3)], torch.Generator())
    loss.backward()
    assert loss.item() == 0.0 and model[0].bias.grad is None
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert all(p.grad is not None and not p.grad.any() for p in trainable)


def images(n: int = 8) -> Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0))


def vae() -> nn.Module:
    model = ConvVAE(latent_dim=4, width=4)
    train_vae(model, images(), epochs=1, batch_size=8, lr=2e-3, seed=0)
    return model


def cvae() -> nn.Module:
    model = ConditionalVAE(latent_dim=4, num_classes=3, width=4)
    train_cvae(
        model, images(), torch.eye(3)[torch.arange(8) % 3], epochs=1, batch_size=8, lr=2e-3, seed=0
    )
    return model


def classifier() -> nn.Module:
    model = CNNClassifier(num_classes=3, width=4, hidden=8)
    train_classifier(
        model, images(), torch.arange(8) % 3, epochs=1, batch_size=8, lr=2e-3, seed=0, augment=2
    )
    return model


def mlp_field() -> nn.Module:
    model = MLPField(4, 3, width=8, depth=2, condition="class")
    train_flow(
        model, torch.randn(8, 4), torch.arange(8) % 3, epochs=1, batch_size=8, lr=5e-3, seed=0
    )
    return model


def unet_field() -> nn.Module:
    model = UNet1DField(16, 3, width=8, depth=2, condition="softmax")
    conditions = torch.softmax(torch.randn(8, 3), 1)
    train_flow(
        model,
        torch.randn(8, 16),
        conditions,
        epochs=1,
        batch_size=8,
        coupling="ot",
        lr=5e-3,
        seed=0,
    )
    return model


@pytest.mark.parametrize("train", [vae, cvae, classifier, mlp_field, unet_field])
def test_every_parameter_of_the_project_models_gets_a_gradient(
    train: Callable[[], nn.Module],
) -> None:
    """DDP is built without ``find_unused_parameters``: every step must reach every parameter.
    The gradients of the last step stay on the model after ``fit``."""
    model = train()
    assert [n for n, p in model.named_parameters() if p.grad is None] == []
