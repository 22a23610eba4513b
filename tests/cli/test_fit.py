"""``leapfactual fit`` with models of your own: a codec and a classifier by entry point on
non-square images kept at their shape (``--image-size HxW``), and what it says it did."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from leapfactual.cli.fit import parse_size
from leapfactual.explain import Explanation

OWN_MODELS = """
import torch

class Halves:
    '''A codec of any image shape: 2x2 means, repeated back.'''

    def encode(self, x):
        return torch.nn.functional.avg_pool2d(x, 2)

    def decode(self, z):
        return z.repeat_interleave(2, -1).repeat_interleave(2, -2)

def dark(x):
    return torch.tensor([[2.0, 0.0]]).expand(len(x), 2)

def brightness(x):
    '''Dark (0) or light (1) by the brightness of its brightest tenth (black bars aside).'''
    score = (x.flatten(1).quantile(0.9, dim=1) - 0.5) * 20
    return torch.stack([-score, score], dim=1)
"""


@pytest.fixture
def own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """An importable module of the models above and a folder of 24x48 (height x width) dark
    and light text lines."""
    name = f"lf_own_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(OWN_MODELS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    rng = np.random.default_rng(0)
    for label, base in (("dark", 20), ("light", 200)):
        (tmp_path / "lines" / label).mkdir(parents=True)
        for i in range(12):
            pixels = np.clip(base + rng.normal(0, 20, (24, 48)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / "lines" / label / f"{i}.png")
    return name, tmp_path / "lines"


def test_non_square_images_kept_at_their_shape_with_models_of_your_own(cli, own, tmp_path):
    name, lines = own
    run = tmp_path / "run"
    done = cli(
        *("fit", "--out", str(run), "--data", f"image-folder:{lines}", "--image-size", "24x48"),
        *("--codec", f"{name}:Halves", "--classifier", f"{name}:brightness"),
        *("--set", "flow.epochs=2", "--set", "flow.min_steps=0"),
    )
    assert done.returncode == 0, done.stderr
    assert "images: 1 x 24 x 48 (2 classes)" in done.stdout
    assert (
        f"note: classifier {name}:brightness is right on 1.000 of 24 of the run's labelled "
        "images (chance 0.500); preprocessing: none"
    ) in done.stdout
    meta = json.loads((run / "run.json").read_text())
    assert meta["data"]["shape"] == [1, 24, 48] and meta["codec_source"]["latent_shape"] == [
        1,
        12,
        24,
    ]
    assert not (run / "vae.safetensors").exists() and (run / "flow.safetensors").exists()
    out = tmp_path / "explained"
    explained = cli(
        "explain",
        str(run),
        "--out",
        str(out),
        "--images",
        str(lines / "dark"),
        "--limit",
        "2",
        "--target",
        "1",
    )
    assert explained.returncode == 0, explained.stderr
    assert Explanation.load(out).x_cf.shape == (2, 1, 24, 48)


def test_non_square_images_need_models_that_take_them(cli, own, tmp_path):
    _, lines = own
    refused = cli(
        "fit",
        "--out",
        str(tmp_path / "run"),
        "--data",
        f"image-folder:{lines}",
        "--image-size",
        "24x48",
    )
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "are 24x48 px (height x width), but the VAE (bring a codec: --codec)" in refused.stderr
    assert not (tmp_path / "run" / "run.json").exists()


def test_a_square_size_pads_them_and_says_so(cli, own, tmp_path):
    name, lines = own
    done = cli(
        *("fit", "--out", str(tmp_path / "run"), "--data", f"image-folder:{lines}"),
        *("--image-size", "16", "--classifier", f"{name}:brightness", "--codec", f"{name}:Halves"),
        *("--set", "flow.epochs=1", "--set", "flow.min_steps=0"),
    )
    assert done.returncode == 0, done.stderr
    note = (
        "note: 24 of 24 images (e.g. 24x48 px, height x width) have another aspect ratio than "
        "16x16: they were scaled to fit and padded with black"
    )
    assert note in done.stdout


def test_the_aspect_option_crops_and_says_so(cli, own, tmp_path):
    name, lines = own
    done = cli(
        *("fit", "--out", str(tmp_path / "run"), "--data", f"image-folder:{lines}"),
        *("--image-size", "16", "--aspect", "crop", "--classifier", f"{name}:brightness"),
        *("--codec", f"{name}:Halves", "--set", "flow.epochs=1", "--set", "flow.min_steps=0"),
    )
    assert done.returncode == 0, done.stderr
    assert "they were scaled to cover and centre-cropped (their edges are cut)" in done.stdout
    assert json.loads((tmp_path / "run" / "run.json").read_text())["config"]["aspect"] == "crop"


def test_a_classifier_at_chance_is_named_in_a_note(cli, own, tmp_path):
    name, lines = own
    done = cli(
        *("fit", "--out", str(tmp_path / "run"), "--data", f"image-folder:{lines}"),
        *("--image-size", "24x48", "--classifier", f"{name}:dark", "--codec", f"{name}:Halves"),
        *("--set", "flow.epochs=1", "--set", "flow.min_steps=0"),
    )
    assert done.returncode == 2 and "close to chance" in done.stderr  # stops unless accepted
    done = cli(
        *("fit", "--out", str(tmp_path / "run"), "--data", f"image-folder:{lines}"),
        *("--image-size", "24x48", "--classifier", f"{name}:dark", "--codec", f"{name}:Halves"),
        *(
            "--set",
            "flow.epochs=1",
            "--set",
            "flow.min_steps=0",
            "--set",
            "classifier.accept_chance=true",
        ),
    )
    assert done.returncode == 0, done.stderr
    assert (
        f"note: classifier {name}:dark is right on 0.500 of 24 of the run's labelled images, "
        "no better than chance (0.500: its answers as if unrelated to the labels), so its CEs "
        "will mean little: check its preprocessing"
    ) in done.stdout


@pytest.mark.parametrize(("text", "size"), [("64", 64), ("24x48", (24, 48)), ("24 X 48", (24, 48))])
def test_image_sizes(text: str, size: object) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["0", "24x", "x48", "24x48x3", "big"])
def test_bad_image_sizes(text: str) -> None:
    with pytest.raises(ValueError, match=r"--image-size takes a side \(64\) or HEIGHTxWIDTH"):
        parse_size(text)


def test_fit_tracks_every_stage_in_tensorboard_and_mlflow(cli, tmp_path, monkeypatch) -> None:
    """``--track`` twice: the event file and the MLflow run (a file store here) hold the
    classifier's losses, one per optimiser step and per epoch, as the fit reported them."""
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    store = (tmp_path / "ml").as_uri()
    done = cli(
        *("fit", "--out", str(tmp_path / "run"), "--data", "digits", "--stages", "classifier"),
        *("--classifier-epochs", "2", "--set", "classifier.min_steps=0"),
        *("--track", f"tensorboard:{tmp_path / 'tb'}", "--track", f"mlflow:{store}"),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    epochs = [(s.step, s.value) for s in events.Scalars("classifier/epoch_loss")]
    steps = events.Scalars("classifier/loss")
    assert [step for step, _ in epochs] == [1, 2] and len(steps) % 2 == 0 and steps
    assert [s.step for s in steps] == list(range(1, len(steps) + 1))
    client = MlflowClient(tracking_uri=store)
    (run,) = client.search_runs([client.get_experiment_by_name("leapfactual").experiment_id])
    history = client.get_metric_history(run.info.run_id, "classifier/epoch_loss")
    assert sorted((m.step, m.value) for m in history) == [
        (step, pytest.approx(value)) for step, value in epochs
    ]
    assert run.info.status == "FINISHED"
