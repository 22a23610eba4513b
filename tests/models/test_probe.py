"""The load-time probe: every check fires on a broken model and stays quiet on a good one."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from leapfactual.models import (
    EXPORT_LINE,
    above_chance,
    check_fingerprint,
    load_classifier,
    probe_accuracy,
    probe_classifier,
    probe_images,
)

CLASSES = [str(k) for k in range(10)]


def linear(classes: int = 10, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, classes)).eval()


@pytest.fixture
def images() -> torch.Tensor:
    return torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(1))


def probe(model, images, **options):
    return probe_classifier(model, images, spec="m", class_names=CLASSES, **options)


def test_a_good_classifier_passes_and_gives_its_fingerprint(images) -> None:
    model = linear()
    fingerprint = probe(model, images)
    assert torch.allclose(torch.tensor(fingerprint), model(probe_images((1, 8, 8))))
    check_fingerprint(model, (1, 8, 8), fingerprint, "m")  # the same model: quiet


def test_a_model_changed_behind_its_files_is_named(images) -> None:
    fingerprint = probe(linear(), images)
    with pytest.raises(ValueError, match=r"answers the run's probe images differently.*re-fit"):
        check_fingerprint(linear(seed=1), (1, 8, 8), fingerprint, "m")


def test_three_outputs_for_ten_classes_is_refused(images) -> None:
    with pytest.raises(ValueError, match=r"returns 3 scores per image, but the data has 10"):
        probe(linear(3), images)


def test_nan_outputs_are_named_before_any_training(images) -> None:
    model = linear()
    with torch.no_grad():
        model[1].weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"NaN or infinite outputs .* before any training"):
        probe(model, images)


def test_outputs_that_are_not_scores_per_image(images) -> None:
    with pytest.raises(ValueError, match=r"returned shape \(10,\) for a batch of 1"):
        probe(lambda x: linear()(x).sum(0), images)
    with pytest.raises(ValueError, match=r"returned torch.int64 outputs"):
        probe(lambda x: linear()(x).argmax(1, keepdim=True).expand(-1, 10), images)


def test_probabilities_and_logits_are_told_apart(images) -> None:
    probs = nn.Sequential(linear(), nn.Softmax(dim=1))
    with pytest.raises(ValueError, match=r"returns probabilities .*classifier.outputs = 'probs'"):
        probe(probs, images)
    probe(probs, images, outputs="probs")
    with pytest.raises(ValueError, match=r"rows that are not probabilities.*'logits'"):
        probe(linear(), images, outputs="probs")


def test_a_random_model_is_refused(images) -> None:
    dropout = nn.Sequential(linear(), nn.Dropout(0.5)).train()
    with pytest.raises(ValueError, match=r"answers the same images differently.*eval mode"):
        probe(dropout, images)


def test_model_class_names_must_follow_the_data(images) -> None:
    probe(linear(), images, model_names=CLASSES)
    numbered = [f"{k}-{name}" for k, name in enumerate("abcdefghij")]
    probe_classifier(linear(), images, spec="m", class_names=numbered, model_names="abcdefghij")
    with pytest.raises(ValueError, match=r"names its classes.*\['9', '8'.*the data's classes"):
        probe(linear(), images, model_names=CLASSES[::-1])


def test_whatever_the_model_raises_is_one_line_naming_it_and_the_step(images) -> None:
    def broken(x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("layer4\nmissing")

    with pytest.raises(
        ValueError,
        match=r"^classifier m failed while probing it with a batch of "
        r"1 image\(s\) of shape \[1, 1, 8, 8\] \(RuntimeError: layer4 missing\)$",
    ):
        probe(broken, images)


def test_accuracy_is_measured_against_chance(images) -> None:
    model = linear()
    x = torch.rand(400, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        labels = model(x).argmax(1)
    accuracy, chance = probe_accuracy(model, x, labels, "m")
    assert accuracy == 1.0 and above_chance(accuracy, chance, 400)
    shuffled = labels[torch.randperm(400, generator=torch.Generator().manual_seed(3))]
    accuracy, chance = probe_accuracy(model, x, shuffled, "m")
    assert not above_chance(accuracy, chance, 400)
    assert chance > 0.1  # its answers favour some classes: chance is not 1 / K


@pytest.fixture(scope="module")
def static_export(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("static") / "model.pt2"
    program = torch.export.export(linear(), (torch.rand(2, 1, 8, 8),))  # the batch fixed at 2
    torch.export.save(program, str(path))
    return path


def test_a_static_batch_export_gets_the_dynamic_export_line(static_export, images) -> None:
    loaded = load_classifier(str(static_export))
    with pytest.raises(ValueError, match=r"fixed batch size of 2 .* dynamic batch size") as err:
        probe(loaded.model, images)
    assert EXPORT_LINE in str(err.value) and "\n" not in str(err.value)


def test_the_export_line_makes_a_model_the_probe_accepts(tmp_path, images) -> None:
    path = tmp_path / "model.pt2"
    names = {"torch": torch, "model": linear(), "example": torch.rand(2, 1, 8, 8)}
    exec(EXPORT_LINE.replace("'model.pt2'", repr(str(path))), names)  # the messages' line
    assert len(probe(load_classifier(str(path)).model, images)) == 3


class RgbOnly(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != 3:
            raise RuntimeError("this network takes RGB images")
        return x.flatten(1)[:, :10]


def test_a_torchscript_error_is_named_by_its_last_line(images) -> None:
    with pytest.raises(ValueError) as err:
        probe(torch.jit.script(RgbOnly()), images)
    message = str(err.value)
    assert "\n" not in message and "Traceback" not in message
    assert message.endswith("this network takes RGB images)"), message
