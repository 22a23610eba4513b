from pathlib import Path

import pytest
import torch

from leapfactual.io import load_module, save_module
from leapfactual.models import CNNClassifier


@pytest.mark.parametrize(("channels", "size"), [(1, 28), (1, 8), (3, 32), (3, 128), (1, 5)])
def test_logit_shapes_for_every_image_size(channels: int, size: int) -> None:
    torch.manual_seed(0)
    model = CNNClassifier(channels, size, num_classes=7, width=4)
    assert model(torch.rand(3, channels, size, size)).shape == (3, 7)


def test_a_sample_does_not_depend_on_its_batch() -> None:
    torch.manual_seed(0)
    model = CNNClassifier(1, 28, width=8)
    x = torch.rand(6, 1, 28, 28)
    assert torch.allclose(model(x)[:2], model(x[:2]), atol=1e-6)


def test_save_load_round_trip_is_exact(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = CNNClassifier(3, 32, num_classes=4, width=4, hidden=16)
    save_module(model, tmp_path / "clf")
    loaded = load_module(tmp_path / "clf", expected=CNNClassifier)
    assert loaded.config == model.config
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(model(x), loaded(x))


def test_wrong_image_shape_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\[B, 1, 28, 28\]"):
        CNNClassifier()(torch.rand(2, 28, 28))


def test_embed_is_the_input_of_the_last_layer() -> None:
    import torch

    from leapfactual.models import CNNClassifier

    torch.manual_seed(0)
    model = CNNClassifier(1, 28, 10, width=8, hidden=16)
    x = torch.rand(3, 1, 28, 28)
    feats = model.embed(x)
    assert feats.shape == (3, 16)
    assert torch.allclose(model.head[-1](feats), model(x))
