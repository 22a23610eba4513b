"""Load a user's classifier from a SPEC string, never unpickling a file.

SPEC is one of:

* ``package.module:attribute`` (attribute may be dotted, ``mod:Factory.build``): the module
  is imported (it must be on ``PYTHONPATH`` or installed). An ``nn.Module`` instance is used
  as is; a class is called with no arguments; a function or method that can be called with
  no arguments is a factory and is called; any other callable (a function taking the images)
  is the classifier itself. Whatever results must be callable.
* ``*.pt2``: a ``torch.export`` program, run with ``torch.export.load(path).module()``.
* ``*.pt`` / ``*.pth`` / ``*.ts`` / ``*.torchscript``: a TorchScript file (``torch.jit.save``).
* ``*.onnx``: an ONNX model run with onnxruntime on the CPU (extra ``leapfactual[onnx]``);
  it computes outputs without gradients, so gradient-based baselines cannot use it
  (LeapFactual needs only outputs).

Files are recognised by their bytes and zip entry names, before anything is loaded: a
pickle or a ``torch.save`` archive is refused (unpickling runs arbitrary code), and so is a
``torch.export`` archive whose weights or constants are pickled or that carries compiled
(AOTInductor) code; ``torch.export.load`` then runs with every ``torch.load`` forced to
``weights_only=True``. These formats hold tensor-operation graphs, not Python code, yet load
models only from sources you trust.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import os
import pickle  # only for its exception type; nothing is unpickled
import re
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from leapfactual._optional import require
from leapfactual.io import file_sha256
from leapfactual.models.adapters import adapt_classifier

ENTRY_POINT = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
TORCH_SUFFIXES = (".pt2", ".pt", ".pth", ".ts", ".torchscript", ".jit", ".pkl", ".pickle")
ACCEPTED = (
    "'package.module:attribute' (a Python entry point), 'model.pt2' (torch.export), "
    "'model.pt' / '.pth' / '.ts' / '.torchscript' (TorchScript) or 'model.onnx' (ONNX)"
)
HOW_TO_EXPORT = (
    "export the model instead: torch.export.save(torch.export.export(model.eval(), "
    "(example,)), 'model.pt2'), or torch.jit.script(model).save('model.pt'), or "
    "torch.onnx.export(model, (example,), 'model.onnx')"
)
_FORCE_WEIGHTS_ONLY = threading.Lock()


@dataclass(frozen=True)
class ExternalClassifier:
    """A loaded classifier and where it came from.

    Attributes:
        spec: the entry point as given, or the file's resolved absolute path.
        kind: ``"entry_point"``, ``"export"``, ``"torchscript"`` or ``"onnx"``.
        sha256: SHA-256 of the file (of the module's source file for an entry point, None
            when it has none).
        model: images ``[B, C, H, W]`` in ``[0, 1]`` -> outputs ``[B, K]`` Tensor.
    """

    spec: str
    kind: str
    sha256: str | None
    model: Callable[[Tensor], Tensor]


def load_classifier(
    spec: str, *, expect_sha256: str | None = None, device: str | torch.device = "cpu"
) -> ExternalClassifier:
    """Load the classifier SPEC names (see the module docstring), in eval mode on ``device``.

    ``expect_sha256``: the hash a run recorded; a different file raises ``ValueError``
    before the model is loaded.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"the classifier SPEC must be a non-empty string: {ACCEPTED}")
    path = Path(spec).expanduser()
    if not path.exists() and ENTRY_POINT.fullmatch(spec):
        return _load_entry_point(spec, expect_sha256, torch.device(device))
    suffix = path.suffix.lower()
    if suffix not in (*TORCH_SUFFIXES, ".onnx"):
        raise ValueError(f"unknown classifier SPEC {spec!r}; give {ACCEPTED}")
    path = path.resolve()
    if not path.is_file():
        raise FileNotFoundError(f"classifier file {path} does not exist; check the path")
    sha256 = file_sha256(path)
    _check_hash(str(path), sha256, expect_sha256)
    if suffix == ".onnx":
        return ExternalClassifier(str(path), "onnx", sha256, OnnxClassifier(path))
    kind = archive_kind(path)
    if kind in ("pickle", "torch_save"):
        what = "a pickle" if kind == "pickle" else "a torch.save archive (a pickle in a zip)"
        raise ValueError(
            f"refusing to load {path}: it is {what}, and unpickling runs arbitrary code; "
            f"{HOW_TO_EXPORT}"
        )
    if kind == "torchscript":
        model: Any = torch.jit.load(str(path), map_location=torch.device(device))
    elif kind == "export":
        model = _load_export(path, torch.device(device))
    else:
        raise ValueError(
            f"{path} is neither a TorchScript nor a torch.export archive; {HOW_TO_EXPORT}"
        )
    return ExternalClassifier(str(path), kind, sha256, _prepare(model, device, kind))


def archive_kind(path: str | os.PathLike[str]) -> str:
    """What a torch-style file is, from its bytes and zip entry names only: ``"pickle"``,
    ``"torch_save"``, ``"torchscript"``, ``"export"`` or ``"unknown"``."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head[:1] == b"\x80":
        return "pickle"
    if not zipfile.is_zipfile(path):
        return "unknown"
    names = _entries(path)
    if "constants.pkl" in names and any(name.startswith("code/") for name in names):
        return "torchscript"
    if "archive_format" in names and any(name.startswith("models/") for name in names):
        return "export"
    if "data.pkl" in names:
        return "torch_save"
    return "unknown"


def _entries(path: str | os.PathLike[str]) -> set[str]:
    """A zip's entry names below its top folder (torch archives put all in one folder)."""
    with zipfile.ZipFile(path) as archive:
        return {name.split("/", 1)[1] for name in archive.namelist() if "/" in name}


def _check_hash(spec: str, actual: str | None, expected: str | None) -> None:
    if expected is None or (actual is not None and actual == expected.strip().lower()):
        return
    raise ValueError(
        f"classifier {spec} has SHA-256 {actual}, but the run was fitted with SHA-256 "
        f"{expected}: the run's flow was fitted to the old model's outputs, so re-fit it on "
        f"this classifier into a new directory: leapfactual fit --out NEW_DIR --classifier {spec}"
    )


def _load_entry_point(
    spec: str, expect_sha256: str | None, device: torch.device
) -> ExternalClassifier:
    module_name, _, attribute = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(
            f"cannot import module {module_name!r} of classifier {spec!r} ({err}); it must be "
            "importable: on PYTHONPATH or installed in this environment"
        ) from err
    source = getattr(module, "__file__", None)
    sha256 = file_sha256(source) if source and Path(source).is_file() else None
    _check_hash(spec, sha256, expect_sha256)
    target: Any = module
    for name in attribute.split("."):
        if not hasattr(target, name):
            raise ValueError(
                f"{type(target).__name__} {getattr(target, '__name__', module_name)!r} has no "
                f"attribute {name!r} (classifier {spec!r}); check 'package.module:attribute'"
            )
        target = getattr(target, name)
    model = _build(target, spec)
    return ExternalClassifier(spec, "entry_point", sha256, _prepare(model, device, "entry_point"))


def _build(target: Any, spec: str) -> Any:
    """The classifier an entry point names: modules and plain callables as they are, classes
    and zero-argument functions called (factories)."""
    if isinstance(target, nn.Module):
        return target
    if not callable(target):
        raise ValueError(
            f"{spec!r} is a {type(target).__name__}, not a callable; point it at a classifier "
            "(images -> outputs), an nn.Module, a class or a zero-argument factory"
        )
    if not (isinstance(target, type) or _takes_no_arguments(target)):
        return target
    try:
        model = target()
    except Exception as err:
        raise ValueError(f"calling the classifier factory {spec!r}() failed: {err}") from err
    if not callable(model):
        raise ValueError(
            f"the factory {spec!r}() returned a {type(model).__name__}, not a callable; return "
            "the classifier (an nn.Module or a function images -> outputs)"
        )
    return model


def _takes_no_arguments(function: Callable[..., Any]) -> bool:
    """Whether ``function`` can be called with no arguments (False when unknown)."""
    if not (inspect.isfunction(function) or inspect.ismethod(function)):
        return False
    try:
        inspect.signature(function).bind()
    except TypeError:
        return False
    return True


def _prepare(model: Any, device: str | torch.device, kind: str) -> Callable[[Tensor], Tensor]:
    """Eval mode and ``device`` for modules (an export keeps the mode it was exported in)."""
    if isinstance(model, nn.Module):
        if kind != "export":
            model.eval()
        with contextlib.suppress(RuntimeError, NotImplementedError, TypeError):
            model.to(device)
    return adapt_classifier(model)


def _load_export(path: Path, device: torch.device) -> nn.Module:
    _check_export_archive(path)
    with _weights_only_loads():
        program = torch.export.load(str(path))
    if device.type != "cpu":
        from torch.export.passes import move_to_device_pass

        program = move_to_device_pass(program, device)
    return program.module()


def _check_export_archive(path: Path) -> None:
    """Refuse a ``torch.export`` archive that would unpickle data or load compiled code."""
    with zipfile.ZipFile(path) as archive:
        names = {n.split("/", 1)[1]: n for n in archive.namelist() if "/" in n}
        reasons = []
        if any(name.startswith(("data/aotinductor/", "data/mtia")) for name in names):
            reasons.append("it carries compiled AOTInductor code")
        for name, full in names.items():
            if name.startswith(("data/weights/", "data/constants/")) and name.endswith(
                "_config.json"
            ):
                config = json.loads(archive.read(full)).get("config", {})
                for entry in config.values():
                    pickled = entry.get("use_pickle") or not str(
                        entry.get("path_name", "")
                    ).startswith(("weight_", "tensor_"))
                    if pickled:
                        reasons.append(f"{name} has pickled or custom objects")
                        break
    if reasons:
        raise ValueError(
            f"refusing to load {path}: {'; '.join(reasons)}; export a plain program "
            "(tensors only) with torch.export.save(torch.export.export(model.eval(), "
            "(example,)), 'model.pt2'), or use TorchScript or ONNX"
        )


@contextlib.contextmanager
def _weights_only_loads() -> Iterator[None]:
    """Force every ``torch.load`` in the block to ``weights_only=True`` (the environment
    switch torch honours even where a caller passes ``weights_only=False``)."""
    with _FORCE_WEIGHTS_ONLY:
        old = os.environ.get("TORCH_FORCE_WEIGHTS_ONLY_LOAD")
        os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = "1"
        try:
            yield
        except pickle.UnpicklingError as err:
            raise ValueError(
                "refusing to load the torch.export archive: it holds pickled objects that are "
                "not plain tensors (torch.load with weights_only=True refused them); "
                f"{HOW_TO_EXPORT}"
            ) from err
        finally:
            if old is None:
                os.environ.pop("TORCH_FORCE_WEIGHTS_ONLY_LOAD", None)
            else:
                os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = old


class OnnxClassifier:
    """An ONNX classifier run with onnxruntime on the CPU: a torch Tensor in, float32 to the
    model's first input, its first output back as a Tensor on the input's device. No
    gradients flow through it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        onnxruntime = require("onnxruntime", "onnx", "an ONNX classifier")
        self.path = str(path)
        self.session = onnxruntime.InferenceSession(self.path, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, x: Tensor) -> Tensor:
        array = x.detach().to("cpu", torch.float32).contiguous().numpy()
        output = self.session.run(None, {self.input_name: array})[0]
        return torch.from_numpy(output).to(x.device)
