"""Preprocessing that travels with a model: its order, its checks, and what a Hugging Face
processor config or a timm pretrained config states."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from leapfactual.models import Preprocess
from leapfactual.models.preprocess import from_hf_processor, from_timm_config


def test_identity_leaves_images_alone() -> None:
    x = torch.rand(2, 3, 4, 4)
    assert Preprocess().identity and Preprocess().describe() == "none"
    assert torch.equal(Preprocess().apply(x), x)


def test_steps_apply_in_the_documented_order() -> None:
    x = torch.rand(2, 3, 4, 6)
    step = Preprocess(
        value_range=(0.0, 255.0),
        channel_order="bgr",
        mean=(127.5,),
        std=(128.0,),
        flatten=True,
    )
    expected = ((x * 255).flip(1) - 127.5) / 128  # a face detector's (x*255 - 127.5) / 128
    assert torch.allclose(step.apply(x), expected.flatten(1))
    assert not step.identity and "channel_order=bgr" in step.describe()


def test_per_channel_mean_and_std_and_resize() -> None:
    x = torch.ones(1, 3, 8, 8)
    out = Preprocess(mean=(0.5, 0.0, 1.0), std=(0.5, 1.0, 2.0), size=(4, 2)).apply(x)
    assert out.shape == (1, 3, 4, 2)
    assert torch.allclose(out[0, :, 0, 0], torch.tensor([1.0, 1.0, 0.0]), atol=1e-6)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"mean": (float("nan"),)}, r"classifier\.preprocess\.mean must be finite numbers"),
        ({"std": (0.0,)}, r"classifier\.preprocess\.std must be positive"),
        ({"value_range": (1.0, 0.0)}, r"value_range must be \[low, high\] with low < high"),
        ({"size": (0, 4)}, r"size must be \[height, width\] in pixels"),
        ({"channel_order": "rbg"}, r"unknown classifier\.preprocess\.channel_order 'rbg'"),
    ],
)
def test_bad_settings_are_refused(values: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Preprocess(**values)


def test_channels_must_fit_the_images() -> None:
    Preprocess(mean=(0.5,), std=(0.5, 0.5, 0.5)).check_channels(3)  # one or one per channel
    with pytest.raises(ValueError, match=r"mean has 3 values, but the images have 1 channel"):
        Preprocess(mean=(0.5, 0.5, 0.5)).check_channels(1)
    with pytest.raises(ValueError, match=r"'bgr' reorders 3 colour channels"):
        Preprocess(channel_order="bgr").check_channels(1)


def test_settings_are_laid_over_what_the_model_ships() -> None:
    shipped = Preprocess(mean=(0.5,), std=(0.5,), size=(8, 8))
    chosen = Preprocess(size=(16, 16)).over(shipped)
    assert chosen == Preprocess(mean=(0.5,), std=(0.5,), size=(16, 16))
    assert chosen.resolved()["value_range"] == [0.0, 1.0]


def test_a_hugging_face_processor_config_gives_the_preprocessing(tmp_path: Path) -> None:
    assert from_hf_processor(tmp_path) == Preprocess()  # none shipped: nothing
    config = {
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
        "do_resize": True,
        "size": {"height": 12, "width": 10},
    }
    (tmp_path / "preprocessor_config.json").write_text(json.dumps(config))
    assert from_hf_processor(tmp_path) == Preprocess(mean=(0.5,) * 3, std=(0.5,) * 3, size=(12, 10))
    config.update(do_rescale=False, do_normalize=False, size={"shortest_edge": 7})
    (tmp_path / "preprocessor_config.json").write_text(json.dumps(config))
    assert from_hf_processor(tmp_path) == Preprocess(value_range=(0.0, 255.0), size=(7, 7))
    (tmp_path / "preprocessor_config.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"preprocessor_config\.json is not valid JSON"):
        from_hf_processor(tmp_path)
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({"image_mean": ["a"]}))
    with pytest.raises(ValueError, match=r"image_mean must be numbers"):
        from_hf_processor(tmp_path)


def test_a_timm_pretrained_config_gives_the_preprocessing() -> None:
    imagenet = {
        "mean": (0.485, 0.456, 0.406),
        "std": (0.229, 0.224, 0.225),
        "input_size": (3, 160, 128),
    }
    assert from_timm_config(imagenet) == Preprocess(
        mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), size=(160, 128)
    )
    assert from_timm_config({}) == Preprocess()
