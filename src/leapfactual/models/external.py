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
  (LeapFactual needs only outputs). Its external data files are hashed with it.
* a Hugging Face model directory (``config.json`` and ``*.safetensors`` weights, extra
  ``leapfactual[hf]``): ``AutoModelForImageClassification.from_pretrained`` on the local
  folder; its image processor config gives the preprocessing, ``id2label`` the class names.
* ``timm:MODEL_NAME:CHECKPOINT.safetensors`` (extra ``leapfactual[timm]``): the timm
  architecture with the checkpoint's weights; its ``pretrained_cfg`` gives the preprocessing.

Preprocessing (:class:`~leapfactual.models.preprocess.Preprocess`) maps the library's images
in [0, 1] to what the model takes, and ``output`` picks one of several outputs; both are
applied by :class:`UserClassifier`. Files are recognised by their bytes and zip entry names,
before anything is loaded: a pickle or a ``torch.save`` archive is refused (unpickling runs
arbitrary code), and so is a ``torch.export`` archive whose weights or constants are pickled
or that carries compiled (AOTInductor) code; ``torch.export.load`` then runs with every
``torch.load`` forced to ``weights_only=True``. A damaged or hostile file that a loader cannot
read gives one ``ValueError`` naming it. An entry point's module is located without running
it and its file hashed before it is imported (:func:`locate_module`). These formats hold
tensor-operation graphs, not Python code, yet load models only from sources you trust.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.machinery
import inspect
import json
import os
import pickle  # only for its exception type; nothing is unpickled
import re
import sys
import threading
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from leapfactual._optional import require
from leapfactual.io import file_sha256
from leapfactual.models.adapters import as_tensor_outputs, select_output
from leapfactual.models.preprocess import Preprocess, from_hf_processor, from_timm_config

ENTRY_POINT = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
TORCH_SUFFIXES = (".pt2", ".pt", ".pth", ".ts", ".torchscript", ".jit", ".pkl", ".pickle")
ACCEPTED = (
    "'package.module:attribute' (a Python entry point), 'model.pt2' (torch.export), "
    "'model.pt' / '.pth' / '.ts' / '.torchscript' (TorchScript), 'model.onnx' (ONNX), a "
    "Hugging Face model directory, or 'timm:MODEL_NAME:CHECKPOINT.safetensors'"
)
EXPORT_LINE = (
    "torch.export.save(torch.export.export(model.eval(), (example,), "
    "dynamic_shapes=({0: torch.export.Dim('batch')},)), 'model.pt2')"
)
"""The export a user should make: a dynamic batch size (``example``: a batch of 2 or more)."""
ONNX_EXPORT_LINE = (
    "torch.onnx.export(model.eval(), (example,), 'model.onnx', "
    "dynamic_shapes=({0: torch.export.Dim('batch')},))"
)
HOW_TO_EXPORT = (
    f"export the model instead: {EXPORT_LINE}, or torch.jit.script(model).save('model.pt'), "
    f"or {ONNX_EXPORT_LINE}"
)
_FORCE_WEIGHTS_ONLY = threading.Lock()


@dataclass(frozen=True)
class ExternalClassifier:
    """A loaded classifier and where it came from.

    Attributes:
        spec: the entry point as given, or the file's (directory's) resolved absolute path.
        kind: ``"entry_point"``, ``"export"``, ``"torchscript"``, ``"onnx"``,
            ``"hf_directory"`` or ``"timm"``.
        sha256: SHA-256 of the file (of the module's source file for an entry point); for a
            model of several files (a directory, ONNX external data) the SHA-256 of their
            names and hashes (:func:`combined_sha256`).
        model: images ``[B, C, H, W]`` in ``[0, 1]`` -> outputs ``[B, K]`` Tensor (the
            preprocessing and the chosen output applied: :class:`UserClassifier`).
        files: every file the model consists of -> its SHA-256 (names relative to the spec's
            folder; the module file for an entry point).
        class_names: the model's own class names in output order (a Hugging Face
            ``id2label``), None when it names none.
        preprocess: what is done to images before the model (the settings laid over what
            the model ships).
    """

    spec: str
    kind: str
    sha256: str
    model: Callable[[Tensor], Any]
    files: dict[str, str] = field(default_factory=dict)
    class_names: tuple[str, ...] | None = None
    preprocess: Preprocess = Preprocess()


class UserClassifier(nn.Module):
    """A classifier made elsewhere as the library calls it: images in [0, 1], ``preprocess``
    applied, the ``output`` chosen (:func:`~leapfactual.models.adapters.select_output`),
    a Tensor back. :meth:`raw` is the model's own answer (before the choice)."""

    input_range = (0.0, 1.0)

    def __init__(self, model: Any, preprocess: Preprocess, output: str, spec: str) -> None:
        super().__init__()
        self.model = model
        self.preprocess = preprocess
        self.output = output
        self.spec = spec
        self.training = False  # the model was put in eval mode (an export keeps its own)

    def train(self, mode: bool = True) -> UserClassifier:
        """Set the mode here and on the model; a ``torch.export`` module keeps the mode it
        was exported in (it refuses ``train`` / ``eval``)."""
        self.training = mode
        if isinstance(self.model, nn.Module):
            with contextlib.suppress(NotImplementedError):
                self.model.train(mode)
        return self

    def raw(self, x: Tensor) -> object:
        return self.model(self.preprocess.apply(x))

    def choose(self, out: object) -> Tensor:
        where = f"classifier {self.spec}"
        return as_tensor_outputs(select_output(out, self.output, where), where)

    def forward(self, x: Tensor) -> Tensor:
        return self.choose(self.raw(x))


def load_classifier(
    spec: str,
    *,
    expect_sha256: str | None = None,
    device: str | torch.device = "cpu",
    preprocess: Preprocess = Preprocess(),
    output: str = "",
    refuse_modules_in: Sequence[str | os.PathLike[str]] = (),
) -> ExternalClassifier:
    """Load the classifier SPEC names (see the module docstring), in eval mode on ``device``.

    ``expect_sha256``: the hash a run recorded; a different file raises ``ValueError``
    before the model is loaded (before an entry point's module is imported).
    ``preprocess``: laid over what the model ships (a Hugging Face processor config, a timm
    ``pretrained_cfg``). ``output``: which of several outputs is the classifier's (an index,
    or a name). ``refuse_modules_in``: folders an entry point's module must not be found in
    (a run's directory and the working directory, when a run file names it).
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"the classifier SPEC must be a non-empty string: {ACCEPTED}")
    dev = torch.device(device)
    path = Path(spec).expanduser()
    if spec.startswith("timm:") and not path.exists():
        loaded = _load_timm(spec, expect_sha256, dev)
    elif not path.exists() and ENTRY_POINT.fullmatch(spec):
        loaded = _load_entry_point(spec, expect_sha256, dev, refuse_modules_in)
    elif path.is_dir():
        loaded = _load_hf_directory(path.resolve(), expect_sha256, dev)
    else:
        loaded = _load_file(spec, path, expect_sha256, dev)
    chosen = preprocess.over(loaded.preprocess)
    model = UserClassifier(loaded.model, chosen, output, loaded.spec)
    return ExternalClassifier(
        loaded.spec, loaded.kind, loaded.sha256, model, loaded.files, loaded.class_names, chosen
    )


def _load_file(
    spec: str, path: Path, expect_sha256: str | None, device: torch.device
) -> ExternalClassifier:
    suffix = path.suffix.lower()
    if suffix not in (*TORCH_SUFFIXES, ".onnx"):
        raise ValueError(f"unknown classifier SPEC {spec!r}; give {ACCEPTED}")
    path = path.resolve()
    if not path.is_file():
        raise FileNotFoundError(f"classifier file {path} does not exist; check the path")
    if suffix == ".onnx":
        files = onnx_files(path)
        sha256 = combined_sha256(files)
        check_hash(str(path), sha256, expect_sha256)
        return ExternalClassifier(str(path), "onnx", sha256, OnnxClassifier(path), files)
    sha256 = file_sha256(path)
    check_hash(str(path), sha256, expect_sha256)
    files = {path.name: sha256}
    with loading(path, "a TorchScript or torch.export file"):
        kind = archive_kind(path)
        if kind in ("pickle", "torch_save"):
            what = "a pickle" if kind == "pickle" else "a torch.save archive (a pickle in a zip)"
            raise ValueError(
                f"refusing to load {path}: it is {what}, and unpickling runs arbitrary code; "
                f"{HOW_TO_EXPORT}"
            )
        if kind == "torchscript":
            model: Any = torch.jit.load(str(path), map_location=device)
        elif kind == "export":
            model = _load_export(path, device)
        else:
            raise ValueError(
                f"{path} is neither a TorchScript nor a torch.export archive; {HOW_TO_EXPORT}"
            )
    return ExternalClassifier(str(path), kind, sha256, _prepare(model, device, kind), files)


@contextlib.contextmanager
def loading(path: str | os.PathLike[str], what: str) -> Iterator[None]:
    """Turn whatever a model loader raises on a damaged or hostile file (torch's zip and
    graph readers, onnxruntime's ``InvalidProtobuf``, transformers') into one
    ``ValueError`` naming the file; our own errors that name it pass as they are."""
    try:
        yield
    except MemoryError:
        raise
    except Exception as err:
        if isinstance(err, ValueError | ImportError) and str(path) in str(err):
            raise
        if isinstance(err, ImportError) and "pip install" in str(err):
            raise
        raise ValueError(
            f"cannot load {path} as {what} ({type(err).__name__}: {first_line(err)}); the file "
            "is damaged, truncated or of another kind: save or export the model again"
        ) from err


@contextlib.contextmanager
def quiet(library: Any) -> Iterator[None]:
    """A Hugging Face library's (transformers', diffusers') logging at errors only and its
    progress bars off inside the block, as they were after it: loading prints nothing."""
    logging = library.utils.logging
    verbosity, bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)
        if bars:
            logging.enable_progress_bar()


def first_line(err: BaseException, limit: int = 240) -> str:
    """The start of an exception's message, on one line; of a message that carries an
    interpreter's traceback (TorchScript's), its last line, which says what failed."""
    lines = [line for line in str(err).splitlines() if line.strip()]
    if any("Traceback" in line for line in lines):
        lines = lines[-1:]
    text = " ".join(" ".join(lines).split()) or type(err).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def combined_sha256(files: Mapping[str, str]) -> str:
    """One SHA-256 for a model of several files: the file's own for one file, else the
    SHA-256 of the sorted ``name<TAB>sha256`` lines."""
    if len(files) == 1:
        return next(iter(files.values()))
    lines = "".join(f"{name}\t{sha}\n" for name, sha in sorted(files.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def directory_files(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` (links followed, names relative, ``/``-separated) -> its
    SHA-256."""
    found = sorted(p for p in folder.rglob("*") if p.is_file())
    if not found:
        raise ValueError(f"{folder} holds no files; give the model's directory")
    return {p.relative_to(folder).as_posix(): file_sha256(p) for p in found}


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


def check_hash(
    spec: str, actual: str | None, expected: str | None, what: str = "classifier"
) -> None:
    if expected is None or (actual is not None and actual == expected.strip().lower()):
        return
    made = "outputs" if what == "classifier" else "latents"
    raise ValueError(
        f"{what} {spec} has SHA-256 {actual}, but the run was fitted with SHA-256 "
        f"{expected}: the run's flow was fitted to the old model's {made}, so re-fit it on "
        f"this {what} into a new directory: leapfactual fit --out NEW_DIR --{what} {spec}"
    )


# -- entry points -----------------------------------------------------------------------------
def locate_module(name: str) -> importlib.machinery.ModuleSpec | None:
    """Where importing ``name`` would find it, found as ``importlib.util.find_spec`` does
    but without importing anything (``find_spec`` imports a dotted name's parent packages,
    running their code): each part is looked up by the import system's finders in its
    parent's folders. None when it is not found."""
    spec: importlib.machinery.ModuleSpec | None = None
    search: Sequence[str] | None = None
    parts = name.split(".")
    for i in range(len(parts)):
        full = ".".join(parts[: i + 1])
        module = sys.modules.get(full)
        spec = getattr(module, "__spec__", None) if module is not None else _find(full, search)
        if spec is None:
            return None
        search = spec.submodule_search_locations
        if search is None and i < len(parts) - 1:
            return None  # a module, not a package: it has no submodules to find
    return spec


def _find(name: str, search: Sequence[str] | None) -> importlib.machinery.ModuleSpec | None:
    for finder in sys.meta_path:
        find = getattr(finder, "find_spec", None)
        if find is None:
            continue
        spec = find(name, list(search) if search is not None else None)
        if spec is not None:
            return spec
    return None


def _check_module_home(
    spec: str, module: str, origin: Path, refuse: Sequence[str | os.PathLike[str]]
) -> None:
    """Refuse a module found in one of the ``refuse`` folders (a run directory, the working
    directory): a run file must not make leapfactual import code planted next to it."""
    top = locate_module(module.split(".")[0])
    top_origin = Path(top.origin) if top is not None and top.origin else origin
    home = top_origin.parent.parent if top_origin.name == "__init__.py" else top_origin.parent
    for folder in refuse:
        place = Path(folder).resolve()
        if home.resolve() == place or origin.resolve().is_relative_to(place):
            raise ValueError(
                f"the run names entry point {spec!r}, whose module is found at {origin}, in "
                f"{place}: a run file never makes leapfactual import code from the run's or "
                "the working directory (it could have been planted there); install the module "
                "or put its folder on PYTHONPATH, and work from another directory"
            )


def _load_entry_point(
    spec: str,
    expect_sha256: str | None,
    device: torch.device,
    refuse: Sequence[str | os.PathLike[str]] = (),
) -> ExternalClassifier:
    target, source, sha256 = load_entry_point(spec, "classifier", expect_sha256, refuse)
    model = _build(target, spec)
    files = {Path(source).name: sha256}
    return ExternalClassifier(
        spec, "entry_point", sha256, _prepare(model, device, "entry_point"), files
    )


def load_entry_point(
    spec: str,
    what: str,
    expect_sha256: str | None = None,
    refuse: Sequence[str | os.PathLike[str]] = (),
) -> tuple[Any, str, str]:
    """The object ``package.module:attribute`` names, its module's file and that file's
    SHA-256. The module is located and hashed first (:func:`locate_module`), imported only
    when the hash is ``expect_sha256`` (when given) and it is not found in ``refuse``."""
    module_name, _, attribute = spec.partition(":")
    located = locate_module(module_name)
    if located is None:
        raise ValueError(
            f"cannot import module {module_name!r} of {what} {spec!r} (No module named "
            f"{module_name!r}); it must be importable: on PYTHONPATH or installed in this "
            "environment"
        )
    origin = Path(located.origin) if located.origin and located.has_location else None
    if origin is None or not origin.is_file():
        raise ValueError(
            f"module {module_name!r} of {what} {spec!r} has no source file to hash (a namespace "
            "package or a built-in module); a run pins the file its model comes from: point "
            "the entry point at a module file"
        )
    source = str(origin)
    _check_module_home(spec, module_name, origin, refuse)
    sha256 = file_sha256(source)
    check_hash(spec, sha256, expect_sha256, what)
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(
            f"cannot import module {module_name!r} of {what} {spec!r} ({err}); it must be "
            "importable: on PYTHONPATH or installed in this environment"
        ) from err
    except Exception as err:
        raise ValueError(
            f"importing module {module_name!r} of {what} {spec!r} failed "
            f"({type(err).__name__}: {first_line(err)}); fix the module"
        ) from err
    loaded = getattr(module, "__file__", None)
    if loaded is None or Path(loaded).resolve() != Path(source).resolve():
        raise ValueError(
            f"module {module_name!r} of {what} {spec!r} was found at {source} but imported "
            f"from {loaded}; make one copy of it importable"
        )
    target: Any = module
    for name in attribute.split("."):
        if not hasattr(target, name):
            raise ValueError(
                f"{type(target).__name__} {getattr(target, '__name__', module_name)!r} has no "
                f"attribute {name!r} ({what} {spec!r}); check 'package.module:attribute'"
            )
        target = getattr(target, name)
    return target, source, sha256


def _build(target: Any, spec: str, what: str = "classifier") -> Any:
    """The model an entry point names: modules and plain callables as they are, classes
    and zero-argument functions called (factories)."""
    if isinstance(target, nn.Module):
        return target
    if not callable(target):
        raise ValueError(
            f"{spec!r} is a {type(target).__name__}, not a callable; point it at a {what} "
            "(images -> outputs), an nn.Module, a class or a zero-argument factory"
        )
    if not (isinstance(target, type) or _takes_no_arguments(target)):
        return target
    try:
        model = target()
    except Exception as err:
        raise ValueError(
            f"calling the {what} factory {spec!r}() failed ({type(err).__name__}: "
            f"{first_line(err)})"
        ) from err
    if not callable(model) and what == "classifier":
        raise ValueError(
            f"the factory {spec!r}() returned a {type(model).__name__}, not a callable; return "
            "the classifier (an nn.Module or a function images -> outputs)"
        )
    return model


def build_entry_point(target: Any, spec: str, what: str) -> Any:
    """:func:`_build` for other kinds of model (a codec: an object with encode / decode)."""
    if isinstance(target, nn.Module) or not callable(target):
        return target
    if isinstance(target, type) or _takes_no_arguments(target):
        return _build(target, spec, what)
    return target


def _takes_no_arguments(function: Callable[..., Any]) -> bool:
    """Whether ``function`` can be called with no arguments (False when unknown)."""
    if not (inspect.isfunction(function) or inspect.ismethod(function)):
        return False
    try:
        inspect.signature(function).bind()
    except TypeError:
        return False
    return True


def _prepare(model: Any, device: str | torch.device, kind: str) -> Any:
    """Eval mode and ``device`` for modules (an export keeps the mode it was exported in)."""
    if isinstance(model, nn.Module):
        if kind != "export":
            model.eval()
        with contextlib.suppress(RuntimeError, NotImplementedError, TypeError):
            model.to(device)
    if not callable(model):
        raise ValueError(
            f"the classifier must be callable (images [B, C, H, W] -> outputs [B, K]), "
            f"got {type(model).__name__}"
        )
    return model


# -- torch.export -----------------------------------------------------------------------------
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
            f"(tensors only) with {EXPORT_LINE}, or use TorchScript or ONNX"
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


# -- ONNX -------------------------------------------------------------------------------------
def onnx_files(path: Path) -> dict[str, str]:
    """The ``.onnx`` file and every external data file its tensors name -> SHA-256 (names
    relative to its folder). A location outside the model's folder is refused."""
    onnx = require("onnx", "onnx", "an ONNX classifier")
    with loading(path, "an ONNX model"):
        model = onnx.load_model(str(path), load_external_data=False)
    files = {path.name: file_sha256(path)}
    folder = path.parent.resolve()
    for tensor in _onnx_tensors(model.graph):
        entries = {entry.key: entry.value for entry in tensor.external_data}
        if tensor.data_location != 1 or "location" not in entries:  # 1: EXTERNAL
            continue
        data = (folder / entries["location"]).resolve()
        if not data.is_relative_to(folder):
            raise ValueError(
                f"refusing to load {path}: tensor {tensor.name!r} names external data "
                f"{entries['location']!r} outside the model's folder; keep its data beside it"
            )
        if not data.is_file():
            raise FileNotFoundError(
                f"{path} keeps tensor {tensor.name!r} in {data}, which does not exist; copy "
                "the model's external data files beside it"
            )
        files[data.relative_to(folder).as_posix()] = file_sha256(data)
    return files


def _onnx_tensors(graph: Any) -> Iterator[Any]:
    """Every initializer of an ONNX graph and of the graphs in its nodes' attributes."""
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            if attribute.HasField("g"):
                yield from _onnx_tensors(attribute.g)
            for sub in attribute.graphs:
                yield from _onnx_tensors(sub)


class ModelInputError(ValueError):
    """Inputs that do not fit what a model declares (the message names the fix)."""


class OnnxClassifier:
    """An ONNX classifier run with onnxruntime on the CPU: a torch Tensor in (cast to the
    model's first input's float type and checked against its declared shape), its output
    back as a Tensor on the input's device, or every output by name (a dict in the graph's
    order) when it has several. No gradients flow through it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        onnxruntime = require("onnxruntime", "onnx", "an ONNX classifier")
        self.path = str(path)
        with loading(path, "an ONNX model"):
            self.session = onnxruntime.InferenceSession(
                self.path, providers=["CPUExecutionProvider"]
            )
        first = self.session.get_inputs()[0]
        self.input_name = first.name
        self.input_shape: list[int | str | None] = list(first.shape)
        self.input_dtype = np_float(first.type)
        self.output_names = [o.name for o in self.session.get_outputs()]

    def check_input(self, shape: tuple[int, ...]) -> None:
        """Raise one line naming the fix unless ``shape`` fits the declared input."""
        declared = self.input_shape
        fixed = ["?" if not isinstance(d, int) else d for d in declared]
        image = shape[1:]
        if len(declared) != len(shape):
            size = 1
            for s in image:
                size *= s
            if len(declared) == 2 and isinstance(declared[1], int) and declared[1] == size:
                fix = (
                    "set classifier.preprocess.flatten = true "
                    "(--set classifier.preprocess.flatten=true)"
                )
            elif len(declared) == 2:
                fix = (
                    f"it takes flat vectors of {declared[1]} values: read the images at a shape "
                    f"of that many values (--image-size, --channels) and set "
                    "classifier.preprocess.flatten = true"
                )
            else:
                fix = "give inputs of the rank it declares (check --channels and the preprocessing)"
            raise ModelInputError(
                f"ONNX model {self.path} takes input {self.input_name!r} of shape {fixed}, but "
                f"gets images of shape {list(shape)}; {fix}"
            )
        if isinstance(declared[0], int) and declared[0] != shape[0]:
            raise ModelInputError(
                f"ONNX model {self.path} was exported with a fixed batch size of {declared[0]} "
                f"(input {self.input_name!r} of shape {fixed}) and cannot classify a batch of "
                f"{shape[0]}; export it with a dynamic batch size: {ONNX_EXPORT_LINE}"
            )
        for axis, (want, got) in enumerate(zip(declared[1:], image, strict=True), start=1):
            if isinstance(want, int) and want != got:
                what = "channels" if axis == 1 and len(shape) == 4 else "size"
                fix = (
                    f"--channels {want}"
                    if what == "channels"
                    else "--image-size or classifier.preprocess.size to match"
                )
                raise ModelInputError(
                    f"ONNX model {self.path} takes input {self.input_name!r} of shape {fixed}, "
                    f"but gets images of shape {list(shape)} (axis {axis}: {got}, not {want}); "
                    f"{fix}"
                )

    def __call__(self, x: Tensor) -> Tensor | dict[str, Any]:
        self.check_input(tuple(x.shape))
        array = x.detach().to("cpu", torch.float32).contiguous().numpy().astype(self.input_dtype)
        try:
            outputs = self.session.run(None, {self.input_name: array})
        except Exception as err:
            raise ValueError(
                f"ONNX model {self.path} failed on a batch of shape {list(x.shape)} "
                f"({type(err).__name__}: {first_line(err)}); check the inputs it declares "
                f"({self.input_name!r} of shape {self.input_shape})"
            ) from err
        values = [
            torch.from_numpy(out).to(x.device) if hasattr(out, "dtype") else out for out in outputs
        ]
        if len(values) == 1:
            return values[0]
        return dict(zip(self.output_names, values, strict=True))


def np_float(onnx_type: str) -> Any:
    """The NumPy float type of an ONNX tensor type (float32 unless it says double)."""
    import numpy as np

    return np.float64 if onnx_type == "tensor(double)" else np.float32


# -- Hugging Face and timm --------------------------------------------------------------------
def _load_hf_directory(
    folder: Path, expect_sha256: str | None, device: torch.device
) -> ExternalClassifier:
    if not (folder / "config.json").is_file():
        raise ValueError(
            f"{folder} is a directory without config.json; a classifier directory is a "
            "Hugging Face model saved with save_pretrained (config.json and model.safetensors)"
        )
    files = directory_files(folder)
    sha256 = combined_sha256(files)
    check_hash(str(folder), sha256, expect_sha256)
    if not any(name.endswith(".safetensors") for name in files):
        raise ValueError(
            f"refusing to load {folder}: it has no *.safetensors weights (pytorch_model.bin is "
            "a pickle, and unpickling runs arbitrary code); save it with "
            "model.save_pretrained(folder, safe_serialization=True)"
        )
    transformers = require("transformers", "hf", "a Hugging Face model directory")
    with loading(folder, "a Hugging Face image classifier"), quiet(transformers):
        model = transformers.AutoModelForImageClassification.from_pretrained(
            str(folder), local_files_only=True, use_safetensors=True, trust_remote_code=False
        )
    labels = getattr(model.config, "id2label", None) or {}
    names = [str(labels[k]) for k in sorted(labels, key=int)] if labels else []
    default = [f"LABEL_{i}" for i in range(len(names))]
    return ExternalClassifier(
        str(folder),
        "hf_directory",
        sha256,
        _prepare(model, device, "hf_directory"),
        files,
        tuple(names) if names and names != default else None,
        from_hf_processor(folder),
    )


def _load_timm(spec: str, expect_sha256: str | None, device: torch.device) -> ExternalClassifier:
    parts = spec.split(":", 2)
    name, checkpoint = (parts[1].strip(), parts[2].strip()) if len(parts) == 3 else ("", "")
    if not name or not checkpoint:
        raise ValueError(
            f"a timm classifier SPEC is 'timm:MODEL_NAME:CHECKPOINT.safetensors', got {spec!r}"
        )
    path = Path(checkpoint).expanduser().resolve()
    if path.suffix.lower() != ".safetensors":
        raise ValueError(
            f"the timm checkpoint {path} must be a .safetensors file (other formats are "
            "pickles); save it with safetensors.torch.save_file(model.state_dict(), PATH)"
        )
    if not path.is_file():
        raise FileNotFoundError(f"timm checkpoint {path} does not exist; check the path")
    sha256 = file_sha256(path)
    resolved = f"timm:{name}:{path}"
    check_hash(resolved, sha256, expect_sha256)
    timm = require("timm", "timm", "a timm model")
    from safetensors.torch import load_file

    with loading(path, f"timm {name!r} weights"):
        state = load_file(str(path))
        model = timm.create_model(name, pretrained=False)
        head = model.get_classifier()
        prefix = next((n for n, m in model.named_modules() if m is head), None)
        weight = state.get(f"{prefix}.weight") if prefix else None
        if weight is not None and weight.shape[0] != getattr(head, "out_features", None):
            model.reset_classifier(int(weight.shape[0]))
        model.load_state_dict(state)
    config = getattr(model, "pretrained_cfg", None) or {}
    return ExternalClassifier(
        resolved,
        "timm",
        sha256,
        _prepare(model, device, "timm"),
        {path.name: sha256},
        None,
        from_timm_config(config),
    )
