"""Modules record their constructor arguments (``register``); checkpoints keep their identity."""

from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from leapfactual.flow import MLPField, UNet1DField, UNet2DField
from leapfactual.io import load_module, register, save_module, save_tensors
from leapfactual.models import CNNClassifier, ConditionalVAE, ConvVAE, ResVAE
from leapfactual.training import fingerprint

OLD_CONFIGS: list[tuple[Any, dict[str, Any]]] = [
    # (a module, the config its hand-written ``self.config`` gave before register recorded it)
    (
        lambda: MLPField(4, 3),
        {
            "latent_dim": 4,
            "cond_dim": 3,
            "width": 64,
            "depth": 3,
            "activation": "selu",
            "condition": "softmax",
        },
    ),
    (
        lambda: MLPField(4, 1, 8, 2, "silu", "value", (0.25, 2.0)),
        {
            "latent_dim": 4,
            "cond_dim": 1,
            "width": 8,
            "depth": 2,
            "activation": "silu",
            "condition": "value",
            "scale": [0.25, 2.0],
        },
    ),
    (
        lambda: UNet1DField(8, 3),
        {"latent_dim": 8, "cond_dim": 3, "dim": 64, "downsamples": 3, "condition": "class"},
    ),
    (
        lambda: UNet1DField(8, 1, width=8, depth=1, condition="value", scale=(0.5, 1.5)),
        {
            "latent_dim": 8,
            "cond_dim": 1,
            "dim": 8,
            "downsamples": 1,
            "condition": "value",
            "scale": [0.5, 1.5],
        },
    ),
    (
        lambda: UNet2DField((2, 4, 4), 3),
        {
            "latent_shape": [2, 4, 4],
            "cond_dim": 3,
            "dim": 32,
            "downsamples": 2,
            "condition": "softmax",
        },
    ),
    (
        lambda: UNet2DField([2, 4, 4], 1, 8, 1, "value", (0.5, 1.5)),
        {
            "latent_shape": [2, 4, 4],
            "cond_dim": 1,
            "dim": 8,
            "downsamples": 1,
            "condition": "value",
            "scale": [0.5, 1.5],
        },
    ),
    (
        lambda: ConvVAE(),
        {"in_channels": 1, "image_size": 28, "latent_dim": 32, "width": 32, "beta": 0.00025},
    ),
    (
        lambda: ConvVAE(3, 16, 8, 8, 1e-5),
        {"in_channels": 3, "image_size": 16, "latent_dim": 8, "width": 8, "beta": 1e-05},
    ),
    (
        lambda: ConditionalVAE(),
        {
            "in_channels": 1,
            "image_size": 28,
            "latent_dim": 32,
            "num_classes": 10,
            "width": 32,
            "beta": 0.001,
        },
    ),
    (
        lambda: ResVAE(latent_dim=64, beta=0.00025),  # the defaults before they became fit's
        {
            "in_channels": 3,
            "image_size": 32,
            "latent_dim": 64,
            "width": 16,
            "beta": 0.00025,
            "reference_var": 0.0952,
            "work_size": None,
        },
    ),
    (
        lambda: ResVAE(1, 16, 8, 8, 1e-5, None, 8),
        {
            "in_channels": 1,
            "image_size": 16,
            "latent_dim": 8,
            "width": 8,
            "beta": 1e-05,
            "reference_var": None,
            "work_size": 8,
        },
    ),
    (  # numpy numbers were cast by hand; they are recorded as plain JSON numbers
        lambda: ResVAE(np.int64(1), np.int64(16), 8, 8, np.float32(0.5), np.float64(0.1)),
        {
            "in_channels": 1,
            "image_size": 16,
            "latent_dim": 8,
            "width": 8,
            "beta": 0.5,
            "reference_var": 0.1,
            "work_size": None,
        },
    ),
    (
        lambda: CNNClassifier(),
        {"in_channels": 1, "image_size": 28, "num_classes": 10, "width": 32, "hidden": 128},
    ),
    (
        lambda: CNNClassifier(3, 16, 4, 8, 32),
        {"in_channels": 3, "image_size": 16, "num_classes": 4, "width": 8, "hidden": 32},
    ),
]
IDS = [f"{i}" for i in range(len(OLD_CONFIGS))]


def renamed(module: nn.Module, old: dict[str, Any]) -> dict[str, Any]:
    """``old`` with the arguments the module's class renamed since under their new names."""
    names = getattr(type(module), "renamed_arguments", {})
    return {names.get(key, key): value for key, value in old.items()}


@pytest.mark.parametrize(("make", "old"), OLD_CONFIGS, ids=IDS)
def test_recorded_config_is_the_old_hand_written_one_key_for_key(make, old) -> None:
    module = make()
    config, old = module.config, renamed(module, old)  # the U-Nets' dim / downsamples
    assert list(config.items()) == list(old.items())  # same keys, order and values
    assert [type(v) for v in config.values()] == [type(v) for v in old.values()]


KINDS = [OLD_CONFIGS[i] for i in (0, 2, 4, 6, 8, 9, 12)]  # one of each module kind


@pytest.mark.parametrize(("make", "old"), KINDS, ids=[f"{i}" for i in range(len(KINDS))])
def test_a_checkpoint_written_before_loads_and_resumes(make, old, tmp_path) -> None:
    torch.manual_seed(0)
    module = make()
    name = type(module).__name__
    meta = {"kind": "module", "type": name, "config": old, "leapfactual_version": "0.1.0"}
    save_tensors(tmp_path / "old", module.state_dict(), meta)  # the format the old code wrote
    loaded = load_module(tmp_path / "old")
    old = renamed(module, old)  # a renamed argument is read under its new name
    assert type(loaded) is type(module) and loaded.config == old
    assert all(
        torch.equal(a, b)
        for a, b in zip(loaded.state_dict().values(), module.state_dict().values(), strict=True)
    )
    data = [torch.zeros(2, 3)]
    # a training checkpoint resumes when the fingerprints agree; the old one held ``old``
    assert (
        fingerprint(loaded, data, {})["model"]["config"]
        == fingerprint(module, data, {})["model"]["config"]
    )
    assert fingerprint(module, data, {})["model"]["config"] == old


class Scaled(nn.Module):
    def __init__(self, width: int, shape: tuple[int, ...] = (2, 3), gain: float | None = None):
        super().__init__()
        self.net = nn.Linear(width, width)


def test_register_records_bound_arguments_as_json(tmp_path) -> None:
    cls = register(type("RecordedToy", (Scaled,), {}))
    module = cls(np.int32(4), gain=np.float64(0.5))
    assert module.config == {"width": 4, "shape": [2, 3], "gain": 0.5}
    assert all(type(v) in (int, float, list) for v in module.config.values())
    save_module(module, tmp_path / "toy")
    back = load_module(tmp_path / "toy")
    assert type(back) is cls and back.config == module.config


def test_unrecorded_when_none_leaves_only_none_out() -> None:
    cls = register(type("OptionalToy", (Scaled,), {"unrecorded_when_none": ("gain",)}))
    assert "gain" not in cls(4).config
    assert cls(4, gain=2).config["gain"] == 2


def test_register_refuses_a_constructor_with_loose_arguments() -> None:
    class Loose(nn.Module):
        def __init__(self, width: int, **options: Any) -> None:
            super().__init__()

    with pytest.raises(ValueError, match=r"Loose.__init__ takes \*\*options: a registered"):
        register(Loose)
