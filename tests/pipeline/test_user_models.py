"""A run on the user's own classifier: probed before anything is written, recorded with its
preprocessing, chosen output, files and behaviour, and checked on every load; a run file never
makes leapfactual import code planted beside it."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from leapfactual.data import Dataset
from leapfactual.flow import UNet2DField
from leapfactual.io import file_sha256
from leapfactual.models import Preprocess, latent_statistics, load_codec
from leapfactual.pipeline import (
    ClassifierSettings,
    CodecSettings,
    FitSettings,
    FlowSettings,
    fit_run,
    load_run,
)
from leapfactual.testing import write_autoencoder

LOCK = ".leapfactual-lock"


def written(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != LOCK) if folder.exists() else []


@pytest.fixture(scope="module")
def user_module(tiny_run, tmp_path_factory) -> tuple[Path, str]:
    """A module (on sys.path) whose classifier is the tiny run's, its logits times the number
    in ``scale.txt`` beside it: weights that live outside the module file."""
    folder = tmp_path_factory.mktemp("user")
    name = f"lf_scaled_{uuid.uuid4().hex[:8]}"
    (folder / "scale.txt").write_text("1.0")
    (folder / f"{name}.py").write_text(
        "from pathlib import Path\n"
        "from leapfactual.io import load_module\n"
        f"NET = load_module({str(Path(tiny_run.directory) / 'classifier')!r})\n"
        "def model(x):\n"
        "    return NET(x) * float(Path(__file__).with_name('scale.txt').read_text())\n"
    )
    sys.path.insert(0, str(folder))
    yield folder, name
    sys.path.remove(str(folder))
    sys.modules.pop(name, None)


def user_config(tiny_config, spec: str, **classifier: object):
    settings = ClassifierSettings(spec=spec, **classifier)  # type: ignore[arg-type]
    return replace(tiny_config, classifier=settings)


def test_a_user_classifier_is_recorded_and_its_behaviour_checked(
    tiny_run, tiny_config, user_module, tmp_path
) -> None:
    folder, name = user_module
    config = user_config(tiny_config, f"{name}:model", preprocess=Preprocess(std=(1.0,)))
    run = fit_run(tmp_path / "run", config, stages=("flow",), dataset=tiny_run.dataset)
    source = json.loads((tmp_path / "run" / "run.json").read_text())["classifier_source"]
    assert source["kind"] == "entry_point" and source["output"] == ""
    assert source["files"] == {f"{name}.py": file_sha256(folder / f"{name}.py")}
    assert source["preprocess"]["std"] == [1.0] and len(source["fingerprint"]) == 3
    assert any("of the run's labelled images (chance" in note for note in run.meta["notes"])
    load_run(tmp_path / "run", dataset=tiny_run.dataset)  # unchanged: loads
    (folder / "scale.txt").write_text("2.0")  # the weights change, the module file does not
    try:
        with pytest.raises(ValueError, match=r"answers the run's probe images differently"):
            load_run(tmp_path / "run", dataset=tiny_run.dataset)
        with pytest.raises(ValueError, match=r"answers the run's probe images differently"):
            fit_run(tmp_path / "run", config, stages=("flow",), dataset=tiny_run.dataset)
    finally:
        (folder / "scale.txt").write_text("1.0")


def test_a_classifier_failing_the_probe_writes_nothing(tiny_run, tiny_config, tmp_path) -> None:
    static = tmp_path / "static.pt2"
    program = torch.export.export(tiny_run.classifier, (tiny_run.test.images[:2],))
    torch.export.save(program, str(static))
    out = tmp_path / "run"
    with pytest.raises(ValueError, match=r"fixed batch size of 2 .*dynamic_shapes"):
        fit_run(out, user_config(tiny_config, str(static)), dataset=tiny_run.dataset)
    assert written(out) == []


PLANTED = """
import pathlib
pathlib.Path(__file__).with_name("imported.txt").write_text("code ran")

def model(x):
    return x.flatten(1)[:, :10]
"""


@pytest.mark.slow
def test_a_module_planted_in_a_received_run_never_runs(tiny_run, tmp_path) -> None:
    """A run whose run.json names a module shipped inside it, explained from that directory
    with ``python -m leapfactual`` (which puts the directory first on sys.path)."""
    run = tmp_path / "received"
    (run).mkdir()
    for item in Path(tiny_run.directory).iterdir():
        if item.is_file():
            (run / item.name).write_bytes(item.read_bytes())
    (run / "planted.py").write_text(PLANTED)
    meta = json.loads((run / "run.json").read_text())
    meta["classifier_source"] = {
        "spec": "planted:model",
        "kind": "entry_point",
        "sha256": file_sha256(run / "planted.py"),  # the attacker recorded the right hash
    }
    (run / "run.json").write_text(json.dumps(meta))
    args = ["explain", ".", "--out", str(tmp_path / "out"), "--limit", "2"]
    done = subprocess.run(
        [sys.executable, "-m", "leapfactual", *args],
        cwd=run,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "never makes leapfactual import code from the run's" in done.stderr
    assert not (run / "imported.txt").exists()


def shades(n: int = 96) -> Dataset:
    """Dark and light RGB images of 16 x 16 px."""
    labels = torch.arange(n) % 2
    images = torch.rand(n, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 0.4
    return Dataset(images + 0.6 * labels.view(-1, 1, 1, 1), labels, ["dark", "light"], "shades")


@pytest.mark.slow
def test_a_diffusers_autoencoder_as_the_codec_with_the_2d_field(tiny_config, tmp_path) -> None:
    data = shades()
    vae = write_autoencoder(tmp_path / "vae")
    flow = FlowSettings(epochs=2, field="unet2d", width=16, depth=2, min_steps=0)
    config = replace(tiny_config, codec=CodecSettings(spec=str(vae)), flow=flow)
    run = fit_run(tmp_path / "run", config, stages=("classifier", "flow"), dataset=data)
    assert written(tmp_path / "run").count("vae.safetensors") == 0  # no VAE was trained
    source = run.meta["codec_source"]
    assert source["kind"] == "diffusers" and source["latent_shape"] == [4, 8, 8]
    assert source["value_range"] == [-1.0, 1.0]
    codec = load_codec(str(vae)).model
    shift, std = latent_statistics(codec, data.images)
    assert source["latent_shift"] == pytest.approx(shift, rel=1e-4, abs=1e-6)
    assert source["latent_scale"] == pytest.approx(1 / std, rel=1e-4)
    assert any("scales latents by 0.18215" in note for note in run.meta["notes"])
    loaded = load_run(tmp_path / "run", dataset=data)
    assert isinstance(loaded.flow, UNet2DField)
    exp = loaded.explainer(inject=None).explain(data.images[:2], 1)
    assert exp.x_cf.shape == (2, 3, 16, 16)
    weights = vae / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-4] + b"\x00\x00\x00\x00")
    with pytest.raises(ValueError, match=r"codec .*vae has SHA-256 .* re-fit it on this codec"):
        load_run(tmp_path / "run", dataset=data)


def test_the_2d_field_needs_spatial_latents() -> None:
    with pytest.raises(
        ValueError, match=r"flow\.field = 'unet2d' works on spatial latents .*--codec"
    ):
        FitSettings(flow=FlowSettings(field="unet2d"))


def test_a_run_file_that_pins_no_hash_imports_nothing(tiny_run, tmp_path) -> None:
    run = tmp_path / "edited"
    run.mkdir()
    for item in Path(tiny_run.directory).iterdir():
        if item.is_file():
            (run / item.name).write_bytes(item.read_bytes())
    meta = json.loads((run / "run.json").read_text())
    meta["classifier_source"] = {"spec": "this:s", "kind": "entry_point", "sha256": None}
    (run / "run.json").write_text(json.dumps(meta))
    sys.modules.pop("this", None)
    with pytest.raises(ValueError, match=r"'classifier_source' must be null or an object"):
        load_run(run, dataset=tiny_run.dataset)
    assert "this" not in sys.modules
