"""Loading a user's classifier from a SPEC: entry points, torch.export, TorchScript, ONNX,
and refusing anything that would be unpickled."""

from __future__ import annotations

import builtins
import io
import json
import pickle
import re
import sys
import textwrap
import uuid
import warnings
import zipfile
from pathlib import Path

import pytest
import torch
from torch import nn

from leapfactual.models import Preprocess, probe_accuracy, probe_classifier
from leapfactual.models.external import (
    archive_kind,
    combined_sha256,
    file_sha256,
    load_classifier,
)


def tiny_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 3)
    ).eval()


class Payload:
    """Creates ``marker`` when unpickled: proves a file was (not) unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (builtins.open, (str(self.marker), "w"))


@pytest.fixture
def images() -> torch.Tensor:
    return torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(1))


@pytest.fixture
def export_file(tmp_path: Path) -> Path:
    model, path = tiny_cnn(), tmp_path / "model.pt2"
    batch = torch.export.Dim("batch")
    program = torch.export.export(model, (torch.rand(2, 1, 8, 8),), dynamic_shapes=({0: batch},))
    torch.export.save(program, path)
    return path


def script_file(path: Path, model: nn.Module) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(model).save(str(path))
    return path


def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> str:
    """Write a module with a unique name into tmp_path, importable; return its name."""
    name = f"lf_user_{uuid.uuid4().hex[:8]}"
    source = "import torch\nfrom torch import nn\n" + textwrap.dedent(body)
    (tmp_path / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return name


NET = """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Linear(64, 3)
        self.dropout = nn.Dropout(0.5)

    def forward(self, x):
        return self.linear(self.dropout(x.flatten(1)))

MODEL = Net()
NOT_CALLABLE = 3

def build():
    return Net()

def bad_factory():
    return 42

EVAL_MODEL = Net().eval()

def classify(x):
    return EVAL_MODEL(x)

class Factory:
    @staticmethod
    def build(width=3):
        return Net()
"""


@pytest.mark.parametrize("attribute", ["MODEL", "Net", "build", "classify", "Factory.build"])
def test_entry_point_forms_give_the_same_classifier(tmp_path, monkeypatch, images, attribute):
    name = user_module(tmp_path, monkeypatch, NET)
    loaded = load_classifier(f"{name}:{attribute}")
    reference = sys.modules[name].Net().eval()
    assert loaded.kind == "entry_point"
    assert loaded.spec == f"{name}:{attribute}"
    assert loaded.sha256 == file_sha256(tmp_path / f"{name}.py")
    out = loaded.model(images)
    assert isinstance(out, torch.Tensor) and out.shape == (5, 3)
    # eval mode: dropout off, so outputs match the reference and repeat exactly
    torch.testing.assert_close(out, reference(images))
    torch.testing.assert_close(loaded.model(images), out)


def test_entry_point_errors_name_the_problem(tmp_path, monkeypatch):
    name = user_module(tmp_path, monkeypatch, NET)
    with pytest.raises(ValueError, match=r"cannot import module 'no_such_mod_zz\.sub'.*importable"):
        load_classifier("no_such_mod_zz.sub:model")
    with pytest.raises(ValueError, match=r"no attribute 'missing'"):
        load_classifier(f"{name}:Factory.missing")
    with pytest.raises(ValueError, match=r"not a callable"):
        load_classifier(f"{name}:NOT_CALLABLE")
    with pytest.raises(ValueError, match=r"returned a int, not a callable"):
        load_classifier(f"{name}:bad_factory")


def test_entry_point_hash_mismatch_names_both_hashes(tmp_path, monkeypatch):
    name = user_module(tmp_path, monkeypatch, NET)
    actual = file_sha256(tmp_path / f"{name}.py")
    load_classifier(f"{name}:MODEL", expect_sha256=actual.upper())
    with pytest.raises(ValueError) as err:
        load_classifier(f"{name}:MODEL", expect_sha256="ab" * 32)
    assert actual in str(err.value) and "ab" * 32 in str(err.value)
    assert "leapfactual fit" in str(err.value) and f"--classifier {name}:MODEL" in str(err.value)


def test_export_program_matches_the_original(export_file, images):
    loaded = load_classifier(str(export_file))
    assert loaded.kind == "export"
    assert loaded.spec == str(export_file.resolve())
    assert loaded.sha256 == file_sha256(export_file)
    torch.testing.assert_close(loaded.model(images), tiny_cnn()(images))


def test_torchscript_loads_in_eval_mode_and_matches(tmp_path, images):
    model = nn.Sequential(tiny_cnn(), nn.Dropout(0.9)).train()
    path = script_file(tmp_path / "model.ts", model)
    loaded = load_classifier(str(path))
    assert loaded.kind == "torchscript"
    assert isinstance(loaded.model, nn.Module) and not loaded.model.training
    torch.testing.assert_close(loaded.model(images), model.eval()(images))


def test_hash_mismatch_is_checked_before_loading(export_file):
    actual = file_sha256(export_file)
    with pytest.raises(ValueError) as err:
        load_classifier(str(export_file), expect_sha256="0" * 64)
    message = str(err.value)
    assert actual in message and "0" * 64 in message and "\n" not in message
    assert "fitted to the old model's outputs" in message


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".pkl"])
def test_pickles_are_refused_without_unpickling(tmp_path, suffix):
    marker = tmp_path / "unpickled.txt"
    raw, archive, legacy = (tmp_path / f"{stem}{suffix}" for stem in ("raw", "zip", "old"))
    raw.write_bytes(pickle.dumps(Payload(marker)))
    torch.save({"model": Payload(marker)}, archive)
    torch.save(Payload(marker), legacy, _use_new_zipfile_serialization=False)
    for path in (raw, archive, legacy):
        with pytest.raises(ValueError, match=r"refusing to load .*torch\.export\.save") as err:
            load_classifier(str(path))
        assert "\n" not in str(err.value)
    assert not marker.exists()
    assert [archive_kind(p) for p in (raw, archive, legacy)] == ["pickle", "torch_save", "pickle"]


def test_whole_module_and_state_dict_saves_are_refused(tmp_path):
    torch.save(tiny_cnn(), tmp_path / "model.pt")
    torch.save(tiny_cnn().state_dict(), tmp_path / "weights.pth")
    for name in ("model.pt", "weights.pth"):
        with pytest.raises(ValueError, match=r"torch\.save archive.*torch\.jit\.script"):
            load_classifier(str(tmp_path / name))


def rewrite_archive(path: Path, replace: dict[str, bytes]) -> None:
    """Rewrite the entries of a zip whose names end with one of ``replace``'s keys."""
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            key = next((k for k in replace if name.endswith(k)), None)
            archive.writestr(name, data if key is None else replace.pop(key))
        for name, data in replace.items():
            archive.writestr(f"{next(iter(entries)).split('/')[0]}/{name}", data)


def test_export_with_pickled_sample_inputs_is_refused(export_file, tmp_path):
    marker = tmp_path / "unpickled.txt"
    buffer = io.BytesIO()
    torch.save((Payload(marker),), buffer)
    rewrite_archive(export_file, {"data/sample_inputs/model.pt": buffer.getvalue()})
    with pytest.raises(ValueError, match=r"pickled objects that are not plain tensors"):
        load_classifier(str(export_file))
    assert not marker.exists()


def test_export_with_opaque_constants_or_compiled_code_is_refused(export_file):
    config = {"config": {"c": {"path_name": "opaque_obj_0", "use_pickle": True}}}
    opaque = export_file.with_name("opaque.pt2")
    opaque.write_bytes(export_file.read_bytes())
    rewrite_archive(opaque, {"model_constants_config.json": json.dumps(config).encode()})
    with pytest.raises(ValueError, match=r"pickled or custom objects"):
        load_classifier(str(opaque))
    rewrite_archive(export_file, {"data/aotinductor/model/model.so": b"\x7fELF"})
    with pytest.raises(ValueError, match=r"compiled AOTInductor code"):
        load_classifier(str(export_file))


def test_bad_specs(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing\.pt2 does not exist"):
        load_classifier(str(tmp_path / "missing.pt2"))
    with pytest.raises(FileNotFoundError, match=r"missing\.onnx"):
        load_classifier(str(tmp_path / "missing.onnx"))
    with pytest.raises(ValueError, match=r"unknown classifier SPEC.*package\.module:attribute"):
        load_classifier(str(tmp_path / "model.safetensors"))
    with pytest.raises(ValueError, match=r"non-empty string"):
        load_classifier("")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a model")
    with pytest.raises(ValueError, match=r"neither a TorchScript nor a torch\.export"):
        load_classifier(str(garbage))


def test_onnx_without_onnxruntime_says_how_to_install(tmp_path, monkeypatch):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ImportError, match=r"pip install 'leapfactual\[onnx\]'"):
        load_classifier(str(path))


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory) -> Path:
    """The model exported with torch 2.13's default (dynamo) exporter; about 4 s on 2 cores."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    path = tmp_path_factory.mktemp("onnx") / "model.onnx"
    batch = torch.export.Dim("batch")
    torch.onnx.export(
        tiny_cnn(),
        (torch.rand(2, 1, 8, 8),),
        str(path),
        input_names=["images"],
        dynamic_shapes=({0: batch},),
        dynamo=True,
        optimize=False,
        verbose=False,
    )
    return path


@pytest.mark.slow
def test_onnx_matches_the_original_without_gradients(onnx_file, images):
    loaded = load_classifier(str(onnx_file))
    data = onnx_file.with_name("model.onnx.data")  # torch's exporter keeps weights beside it
    assert loaded.kind == "onnx" and loaded.files == {
        "model.onnx": file_sha256(onnx_file),
        "model.onnx.data": file_sha256(data),
    }
    assert loaded.sha256 == combined_sha256(loaded.files) != file_sha256(onnx_file)
    out = loaded.model(images.double().requires_grad_())
    assert isinstance(out, torch.Tensor) and out.shape == (5, 3) and not out.requires_grad
    torch.testing.assert_close(out, tiny_cnn()(images), rtol=1e-4, atol=1e-5)


# -- outputs chosen, never guessed ------------------------------------------------------------
THREE_OUTPUTS = """
class Detector(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.box, self.marks, self.score = nn.Linear(64, 4), nn.Linear(64, 10), nn.Linear(64, 2)

    def forward(self, x):
        x = x.flatten(1)
        return self.box(x), self.marks(x), self.score(x).softmax(1)

class Named(Detector):
    def forward(self, x):
        box, marks, probs = super().forward(x)
        return {"box": box, "landmarks": marks, "probabilities": probs}
"""


def test_several_outputs_need_a_choice_that_lists_them(tmp_path, monkeypatch, images):
    name = user_module(tmp_path, monkeypatch, THREE_OUTPUTS)
    loaded = load_classifier(f"{name}:Detector")
    with pytest.raises(
        ValueError,
        match=r"returned 3 outputs.*\[0\] \(5, 4\), \[1\] \(5, 10\), "
        r"\[2\] \(5, 2\); .*classifier\.output=INDEX",
    ):
        loaded.model(images)
    assert load_classifier(f"{name}:Detector", output="2").model(images).shape == (5, 2)
    named = load_classifier(f"{name}:Named", output="probabilities").model(images)
    torch.testing.assert_close(named.sum(1), torch.ones(5))
    assert load_classifier(f"{name}:Named", output="1").model(images).shape == (5, 10)
    with pytest.raises(
        ValueError,
        match=r"output = 'scores' names none of the outputs.*'box' "
        r"\(5, 4\), 'landmarks' \(5, 10\), 'probabilities' \(5, 2\)",
    ):
        load_classifier(f"{name}:Named", output="scores").model(images)
    with pytest.raises(ValueError, match=r"output = '1', but classifier .* returns one output"):
        load_classifier(str(script_file(tmp_path / "m.pt", tiny_cnn())), output="1").model(images)


@pytest.fixture(scope="module")
def sklearn_onnx(tmp_path_factory) -> Path:
    """A scikit-learn MLP on 8x8 digits converted by skl2onnx: input [B, 64], outputs
    ``label`` and ``probabilities`` (no ZipMap)."""
    skl2onnx = pytest.importorskip("skl2onnx")
    from sklearn.datasets import load_digits
    from sklearn.neural_network import MLPClassifier

    digits = load_digits()
    x = (digits.data / 16).astype("float32")
    mlp = MLPClassifier((16,), max_iter=60, random_state=0).fit(x, digits.target)
    onnx_model = skl2onnx.to_onnx(mlp, x[:1], options={id(mlp): {"zipmap": False}})
    path = tmp_path_factory.mktemp("skl") / "digits.onnx"
    path.write_bytes(onnx_model.SerializeToString())
    return path


def test_an_onnx_model_of_flat_vectors_with_two_outputs(sklearn_onnx):
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.tensor(digits.data[:50] / 16, dtype=torch.float32).reshape(50, 1, 8, 8)
    with pytest.raises(
        ValueError,
        match=r"takes input 'X' of shape \['\?', 64\], but gets images "
        r"of shape \[50, 1, 8, 8\]; set classifier\.preprocess\.flatten = true",
    ):
        load_classifier(str(sklearn_onnx)).model(images)
    flat = Preprocess(flatten=True)
    with pytest.raises(
        ValueError,
        match=r"returned 2 outputs.*'label' \(50,\), 'probabilities' "
        r"\(50, 10\)",
    ):
        load_classifier(str(sklearn_onnx), preprocess=flat).model(images)
    model = load_classifier(str(sklearn_onnx), preprocess=flat, output="probabilities").model
    out = model(images)
    assert out.shape == (50, 10)
    assert float((out.argmax(1) == torch.tensor(digits.target[:50])).float().mean()) > 0.8


# -- damaged files, planted modules -----------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "what"),
    [("model.pt2", "a TorchScript or torch.export file"), ("model.onnx", "an ONNX model")],
)
def test_a_damaged_model_file_is_one_line_naming_it(tmp_path, export_file, name, what):
    path = tmp_path / name
    if name.endswith(".pt2"):
        path.write_bytes(export_file.read_bytes())
        rewrite_archive(path, {"models/model.json": b"{not a program"})  # a damaged entry
    else:
        pytest.importorskip("onnx")
        path.write_bytes(b"\x08\x07garbage that is no protobuf" * 3)
    with pytest.raises(ValueError, match=rf"^cannot load {re.escape(str(path))} as {what} \("):
        load_classifier(str(path))


PLANTED = """
import pathlib
pathlib.Path(__file__).with_name("imported.txt").write_text("code ran")

def model(x):
    return x.flatten(1)[:, :3]
"""


def test_a_run_never_imports_a_module_planted_beside_it(tmp_path, monkeypatch):
    name = user_module(tmp_path, monkeypatch, PLANTED)
    recorded = file_sha256(tmp_path / f"{name}.py")
    with pytest.raises(ValueError, match=r"never makes leapfactual import code from the run's"):
        load_classifier(f"{name}:model", expect_sha256=recorded, refuse_modules_in=[tmp_path])
    assert not (tmp_path / "imported.txt").exists() and name not in sys.modules
    with pytest.raises(ValueError, match=r"has SHA-256 [0-9a-f]+, but the run was fitted"):
        load_classifier(f"{name}:model", expect_sha256="00" * 32)
    assert not (tmp_path / "imported.txt").exists() and name not in sys.modules
    load_classifier(f"{name}:model", expect_sha256=recorded)  # recorded, elsewhere: imported
    assert (tmp_path / "imported.txt").read_text() == "code ran"


def test_an_edited_run_file_naming_an_installed_module_runs_none_of_it(capsys):
    sys.modules.pop("this", None)
    with pytest.raises(ValueError, match=r"classifier this:s has SHA-256 [0-9a-f]+, but the run"):
        load_classifier("this:s", expect_sha256="00" * 32)
    assert "this" not in sys.modules and "Zen" not in capsys.readouterr().out


# -- Hugging Face directories and timm checkpoints --------------------------------------------
@pytest.fixture(scope="module")
def hf_directory(tmp_path_factory) -> tuple[Path, torch.Tensor, torch.Tensor]:
    """A tiny Hugging Face classifier of dark and light RGB images with its processor config
    (mean and std 0.5), its images and labels."""
    pytest.importorskip("transformers")
    from leapfactual.data import Dataset
    from leapfactual.testing import write_hf_classifier

    labels = torch.arange(64) % 2
    images = torch.rand(64, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 0.4
    images += 0.6 * labels.view(-1, 1, 1, 1)
    data = Dataset(images, labels, ["dark", "light"], "shades")
    return write_hf_classifier(data, tmp_path_factory.mktemp("hf") / "model"), images, labels


def test_a_hugging_face_directory_brings_its_preprocessing_and_names(hf_directory):
    folder, images, labels = hf_directory
    loaded = load_classifier(str(folder))
    assert loaded.kind == "hf_directory" and loaded.class_names == ("dark", "light")
    assert loaded.preprocess == Preprocess(mean=(0.5,) * 3, std=(0.5,) * 3, size=(16, 16))
    assert set(loaded.files) == {"config.json", "model.safetensors", "preprocessor_config.json"}
    assert loaded.sha256 == combined_sha256(loaded.files)
    assert probe_accuracy(loaded.model, images, labels, loaded.spec)[0] > 0.9
    probe_classifier(
        loaded.model,
        images[:3],
        spec=loaded.spec,
        class_names=["dark", "light"],
        model_names=loaded.class_names,
    )
    with pytest.raises(
        ValueError,
        match=r"names its classes, in its output order \(id2label\), "
        r"\['dark', 'light'\], but the data's classes .* are \['light', 'dark'\]",
    ):
        probe_classifier(
            loaded.model,
            images[:3],
            spec=loaded.spec,
            class_names=["light", "dark"],
            model_names=loaded.class_names,
        )


def test_hugging_face_directories_that_cannot_be_used(hf_directory, tmp_path):
    folder, _, _ = hf_directory
    with pytest.raises(ValueError, match=r"has SHA-256 [0-9a-f]+, but the run was fitted"):
        load_classifier(str(folder), expect_sha256="00" * 32)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"a directory without config\.json"):
        load_classifier(str(tmp_path / "empty"))
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_bytes((folder / "config.json").read_bytes())
    (pickled / "pytorch_model.bin").write_bytes(b"\x80\x04")
    with pytest.raises(ValueError, match=r"no \*\.safetensors weights \(pytorch_model\.bin is a"):
        load_classifier(str(pickled))
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for item in folder.iterdir():
        (damaged / item.name).write_bytes(item.read_bytes())
    (damaged / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    with pytest.raises(
        ValueError, match=r"^cannot load .*damaged as a Hugging Face image classifier"
    ):
        load_classifier(str(damaged))


class FakeTimmModel(nn.Module):
    """What ``timm.create_model`` returns, as far as the loader uses it."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Flatten()
        self.head = nn.Linear(3 * 4 * 4, 1000)
        self.pretrained_cfg = {
            "mean": (0.485, 0.456, 0.406),
            "std": (0.229, 0.224, 0.225),
            "input_size": (3, 4, 4),
        }

    def get_classifier(self) -> nn.Module:
        return self.head

    def reset_classifier(self, classes: int) -> None:
        self.head = nn.Linear(3 * 4 * 4, classes)

    def forward(self, x):
        return self.head(self.body(x))


def test_a_timm_model_with_a_local_checkpoint(tmp_path, monkeypatch):
    """timm needs torchvision, whose registry wheels replace the pinned CPU torch, so timm is
    not installed here: the path runs against a stand-in ``timm`` module."""
    from types import SimpleNamespace

    from safetensors.torch import save_file

    made = []
    fake = SimpleNamespace(
        create_model=lambda name, pretrained: made.append(name) or FakeTimmModel()
    )
    monkeypatch.setitem(sys.modules, "timm", fake)
    trained = FakeTimmModel()
    trained.reset_classifier(3)
    checkpoint = tmp_path / "resnet10t.safetensors"
    save_file(trained.state_dict(), str(checkpoint))
    loaded = load_classifier(f"timm:resnet10t:{checkpoint}")
    assert made == ["resnet10t"] and loaded.kind == "timm"
    assert loaded.spec == f"timm:resnet10t:{checkpoint.resolve()}"
    assert loaded.preprocess == Preprocess(
        mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), size=(4, 4)
    )
    x = torch.rand(2, 3, 4, 4)
    expected = trained(
        (x - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        / torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    )
    torch.testing.assert_close(loaded.model(x), expected)
    with pytest.raises(ValueError, match=r"must be a \.safetensors file \(other formats are"):
        load_classifier(f"timm:resnet10t:{tmp_path / 'model.pth'}")
    with pytest.raises(ValueError, match=r"is 'timm:MODEL_NAME:CHECKPOINT\.safetensors'"):
        load_classifier("timm:resnet10t")


@pytest.mark.slow
def test_an_onnx_input_declared_shape_names_the_fix(onnx_file):
    model = load_classifier(str(onnx_file)).model
    with pytest.raises(
        ValueError,
        match=r"of shape \['\?', 1, 8, 8\].*\(axis 1: 3, not 1\); "
        r"--channels 1$",
    ):
        model(torch.rand(2, 3, 8, 8))
    with pytest.raises(
        ValueError,
        match=r"\(axis 2: 16, not 8\); --image-size or classifier\."
        r"preprocess\.size to match$",
    ):
        model(torch.rand(2, 1, 16, 16))
    resized = load_classifier(str(onnx_file), preprocess=Preprocess(size=(8, 8))).model
    assert resized(torch.rand(2, 1, 16, 16)).shape == (2, 3)


@pytest.mark.slow
def test_zeroed_onnx_external_weights_are_noticed(onnx_file, tmp_path):
    for name in ("model.onnx", "model.onnx.data"):
        (tmp_path / name).write_bytes((onnx_file.parent / name).read_bytes())
    recorded = load_classifier(str(tmp_path / "model.onnx")).sha256
    data = tmp_path / "model.onnx.data"
    data.write_bytes(bytes(data.stat().st_size))  # the weights zeroed, the .onnx unchanged
    with pytest.raises(ValueError, match=r"has SHA-256 [0-9a-f]+, but the run was fitted"):
        load_classifier(str(tmp_path / "model.onnx"), expect_sha256=recorded)
    data.unlink()
    with pytest.raises(FileNotFoundError, match=r"keeps tensor .* which does not exist; copy"):
        load_classifier(str(tmp_path / "model.onnx"))
