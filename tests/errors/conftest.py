"""Broken inputs for the bad-input table, all derived from the session's tiny run."""

from __future__ import annotations

import copy
import json
import shutil
import zipfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from leapfactual.explain import Explanation
from leapfactual.flow import MLPField, save_field
from leapfactual.io import exclusive
from leapfactual.models.external import file_sha256

HELD = ExitStack()
"""Locks held for the whole session (the busy output directory's)."""


@dataclass
class Broken:
    """Paths of one good run and of its broken variants, plus inputs and explanations."""

    run: Path
    root: Path

    def __getattr__(self, name: str) -> Path:
        return self.root / name


def _copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("checkpoints"))
    return dst


def _record(run: Path, stage: str) -> None:
    """Record the replaced ``stage`` file's hash in run.json, as if the run had been fitted
    with it: loading then reaches the model checks instead of the changed-file check."""
    meta = json.loads((run / "run.json").read_text())
    meta["files"][stage] = file_sha256(run / f"{stage}.safetensors")
    (run / "run.json").write_text(json.dumps(meta))


def _explanation(x: torch.Tensor, x_cf: torch.Tensor) -> Explanation:
    n = x.shape[0]
    probs = torch.full((n, 3), 1 / 3)
    target = torch.ones(n, dtype=torch.long)
    return Explanation(
        method="custom",
        x=x,
        x_cf=x_cf,
        source=torch.zeros(n, dtype=torch.long),
        target=target,
        probs=probs,
        probs_cf=probs,
    )


@pytest.fixture(scope="session")
def broken(tiny_run, tmp_path_factory) -> Broken:
    from PIL import Image

    root = tmp_path_factory.mktemp("broken")
    run = Path(tiny_run.directory)
    latent = tiny_run.config.vae.latent_dim
    classes = tiny_run.dataset.num_classes

    for name, field in [
        ("cond5", MLPField(latent, classes - 5)),
        ("latent", MLPField(2 * latent, classes)),
    ]:
        save_field(field, _copy_run(run, root / f"run_{name}") / "flow")
        _record(root / f"run_{name}", "flow")

    old = _copy_run(run, root / "run_old")
    meta = json.loads((old / "run.json").read_text())
    meta.update(run_format=0, leapfactual_version="0.0.1")
    (old / "run.json").write_text(json.dumps(meta))

    unknown = _copy_run(run, root / "run_unknown_type")
    vae_meta = json.loads((unknown / "vae.json").read_text())
    vae_meta.update(type="ConvVAEv9", leapfactual_version="9.0")
    (unknown / "vae.json").write_text(json.dumps(vae_meta))

    trunc = _copy_run(run, root / "run_truncated")
    data = (trunc / "vae.safetensors").read_bytes()
    (trunc / "vae.safetensors").write_bytes(data[: len(data) // 2])

    pickled = _copy_run(run, root / "run_pickled")
    torch.save(tiny_run.flow.state_dict(), pickled / "flow.safetensors")

    (root / "empty_images").mkdir()
    (root / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (root / "existing_out").mkdir()
    (root / "existing_out" / "keep.txt").write_text("precious")
    (root / "existing.html").write_text("<p>precious</p>")

    base = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    cases = {
        "exp_channels": (torch.rand(2, 2, 8, 8), torch.rand(2, 2, 8, 8)),
        "exp_uint8": ((base * 255).byte(), (base * 255).byte()),
        "exp_nan": (base, base.clone().fill_(float("nan"))),
        "exp_range": (base * 2 - 1, base * 2 - 1),
        "exp_good": (base, base.flip(0)),
    }
    for name, (x, x_cf) in cases.items():
        _explanation(x, x_cf).save(root / name)
    for name in ("exp_truncated", "exp_pickled"):
        shutil.copytree(root / "exp_good", root / name)
    data = (root / "exp_good" / "explanation.safetensors").read_bytes()
    (root / "exp_truncated" / "explanation.safetensors").write_bytes(data[: len(data) // 2])
    exp = Explanation.load(root / "exp_good")
    torch.save(exp.tensors(), root / "exp_pickled" / "explanation.safetensors")
    arr = (tiny_run.test.images[0, 0] * 255).byte().numpy()
    Image.fromarray(arr).save(root / "digit.png")
    _own_model_cases(tiny_run, run, root)
    _hardening_cases(tiny_run, run, root)
    _byo_cases(tiny_run, run, root)
    return Broken(run, root)


def _own_model_cases(tiny_run, run: Path, root: Path) -> None:
    """Rows 15-23: a pickled classifier, a changed one, a run whose data is gone, a busy
    output, a file that is not TOML, and a decompression bomb."""
    from PIL import Image

    torch.save(tiny_run.classifier, root / "model.pt")  # a pickle: must never be loaded
    example = tiny_run.test.images[:2]
    program = torch.export.export(tiny_run.classifier, (example,))
    torch.export.save(program, str(root / "classifier.pt2"))
    changed = _copy_run(run, root / "run_changed")
    meta = json.loads((changed / "run.json").read_text())
    meta["classifier_source"] = {
        "spec": str(root / "classifier.pt2"),
        "kind": "export",
        "sha256": "0" * 64,  # what the file hashed to when the run was fitted
    }
    (changed / "run.json").write_text(json.dumps(meta))
    nodata = _copy_run(run, root / "run_nodata")
    meta = json.loads((nodata / "run.json").read_text())
    meta["config"]["data"] = meta["data"]["spec"] = f"image-folder:{root / 'moved_away'}"
    (nodata / "run.json").write_text(json.dumps(meta))
    HELD.enter_context(exclusive(root / "busy_out", "explain"))  # another job, as it were
    (root / "bad.toml").write_text("[vae\nepochs = 3\n")
    Image.new("1", (10_000, 9_000)).save(root / "bomb.png")  # 90 M pixels, a few KB


def _hardening_cases(tiny_run, run: Path, root: Path) -> None:
    """Hardening rows: NaN weights, a flipped block, a planted link, hostile sizes, edited
    run and explanation files, a PNG named like an HDF5 file."""
    import gzip

    from PIL import Image

    from leapfactual.io import load_tensors, save_module, save_tensors

    nan = _copy_run(run, root / "run_nan")
    classifier = copy.deepcopy(tiny_run.classifier)
    with torch.no_grad():
        for param in classifier.parameters():
            param.fill_(float("nan"))
    save_module(classifier, nan / "classifier")
    _record(nan, "classifier")  # consistent files: only the outputs tell
    flipped = _copy_run(run, root / "run_flipped")
    raw = bytearray((flipped / "classifier.safetensors").read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 4096] = bytes(4096)
    (flipped / "classifier.safetensors").write_bytes(bytes(raw))
    (root / "precious_shards").mkdir()
    (root / "precious_shards" / "keep.txt").write_text("precious")
    linked = _copy_run(run, root / "run_linked")
    (linked / "checkpoints").mkdir()
    (linked / "checkpoints" / "oracle").symlink_to(root / "precious_shards")
    (root / "linked_out").mkdir()
    (root / "linked_out" / "shards").symlink_to(root / "precious_shards")
    shutil.copytree(root / "exp_good", root / "exp_huge")
    header = json.dumps({"x": {"dtype": "F32", "shape": [2**38], "data_offsets": [0, 2**40]}})
    (root / "exp_huge" / "explanation.safetensors").write_bytes(
        len(header).to_bytes(8, "little") + header.encode()
    )
    dims = b"".join(d.to_bytes(4, "big") for d in (60_000, 4096, 4096))
    (root / "bomb-idx3-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x03" + dims))
    for name, content in [("run_badjson", {"files": []}), ("run_list", None)]:
        edited = _copy_run(run, root / name)
        meta = json.loads((edited / "run.json").read_text())
        (edited / "run.json").write_text(json.dumps([] if content is None else meta | content))
    shutil.copytree(root / "exp_good", root / "exp_edited")
    tensors, meta = load_tensors(root / "exp_edited" / "explanation")
    keep = {k: v for k, v in meta.items() if k not in ("tensors", "save_id", "sha256")}
    save_tensors(root / "exp_edited" / "explanation", {**tensors, "extra": torch.ones(2)}, keep)
    Image.new("RGB", (4, 4)).save(root / "galaxy.h5", format="PNG")


class _ThreeOutputs(torch.nn.Module):
    """A face detector's head: box [B, 4], landmarks [B, 10], probabilities [B, 2]."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.box, self.marks = torch.nn.Linear(784, 4), torch.nn.Linear(784, 10)
        self.score = torch.nn.Linear(784, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = x.flatten(1)
        return self.box(x), self.marks(x), self.score(x).softmax(1)


class _RgbOnly(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != 3:
            raise RuntimeError("this network takes RGB images")
        return x.flatten(1)[:, :10]


def _export(model: torch.nn.Module, example: torch.Tensor, path: Path) -> None:
    batch = torch.export.Dim("batch")
    program = torch.export.export(model.eval(), (example,), dynamic_shapes=({0: batch},))
    torch.export.save(program, str(path))


def _byo_cases(tiny_run, run: Path, root: Path) -> None:
    """Bring-your-own rows: models with several outputs, NaN, probabilities, a damaged
    export, one that fails on the run's images, a scikit-learn ONNX graph of flat
    vectors, a run with a planted module and one whose model changed behind its file."""
    from skl2onnx import to_onnx
    from sklearn.datasets import load_digits
    from sklearn.neural_network import MLPClassifier

    from leapfactual.models import probe_images

    example = tiny_run.test.images[:2]
    torch.jit.script(_ThreeOutputs()).save(str(root / "three.pt"))
    torch.jit.script(_RgbOnly()).save(str(root / "rgb_only.pt"))
    nan = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    with torch.no_grad():
        nan[1].weight.fill_(float("nan"))
    torch.jit.script(nan).save(str(root / "nan.pt"))
    _export(
        torch.nn.Sequential(tiny_run.classifier, torch.nn.Softmax(1)), example, root / "probs.pt2"
    )
    constant = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    with torch.no_grad():
        constant[1].weight.zero_()
        constant[1].bias.copy_(torch.arange(10.0))  # always class 9: changed behind its file
    _export(constant, example, root / "constant.pt2")
    damaged = root / "damaged.pt2"
    damaged.write_bytes((root / "probs.pt2").read_bytes())
    with zipfile.ZipFile(root / "probs.pt2") as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    with zipfile.ZipFile(damaged, "w") as archive:
        for name, data in entries.items():
            archive.writestr(
                name, b"{not a program" if name.endswith("models/model.json") else data
            )
    digits = load_digits()
    x = (digits.data / 16).astype("float32")
    mlp = MLPClassifier((16,), max_iter=30, random_state=0).fit(x, digits.target)
    onnx = to_onnx(mlp, x[:1], options={id(mlp): {"zipmap": False}})
    (root / "digits.onnx").write_bytes(onnx.SerializeToString())

    planted = _copy_run(run, root / "run_planted")
    (planted / "lf_planted_module.py").write_text(
        "import pathlib\n"
        "pathlib.Path(__file__).with_name('imported.txt').write_text('code ran')\n"
        "def model(x):\n    return x.flatten(1)[:, :10]\n"
    )
    meta = json.loads((planted / "run.json").read_text())
    meta["classifier_source"] = {
        "spec": "lf_planted_module:model",
        "kind": "entry_point",
        "sha256": file_sha256(planted / "lf_planted_module.py"),
    }
    (planted / "run.json").write_text(json.dumps(meta))

    swapped = _copy_run(run, root / "run_swapped")
    meta = json.loads((swapped / "run.json").read_text())
    with torch.no_grad():
        before = (constant(probe_images((1, 28, 28))) * 2).tolist()  # as it answered then
    meta["classifier_source"] = {
        "spec": str(root / "constant.pt2"),
        "kind": "export",
        "sha256": file_sha256(root / "constant.pt2"),
        "fingerprint": before,
    }
    (swapped / "run.json").write_text(json.dumps(meta))

    from PIL import Image

    for label in ("a", "b"):  # 24x48 px (height x width) text lines
        (root / "lines" / label).mkdir(parents=True)
        Image.new("L", (48, 24), 40 if label == "a" else 220).save(root / "lines" / label / "0.png")
