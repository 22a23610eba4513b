"""A run directory: everything needed to explain a classifier on one dataset.

``fit_run`` fits, in order, the VAE (the codec), the classifier being explained (or loads the
user's own, ``classifier.spec``), and the CE-CFM flow conditioned on that classifier's outputs;
optional stages add an oracle classifier (other width and seed, for oracle validity) and a
conditional VAE (for the CGM baseline). Models are built by :mod:`leapfactual.pipeline.build`.
Every stage is saved as safetensors + JSON as soon as it is done and reused when the run is
fitted again; a stage interrupted mid-training resumes from its last epoch checkpoint.

Layout::

    run.json                 settings, data (resolved spec, shape, classes, fingerprint),
                             SHA-256 of every model file, the user classifier's spec and hash,
                             measured quality and warnings, where each stage stopped
                             and why (``stopping``), versions
    split.safetensors/.json  train / test indices into the dataset
    vae.*  [classifier.*]  flow.*  [oracle.*  cvae.*]
    checkpoints/STAGE/       epoch checkpoints while a stage trains (removed when it is done)

Loading checks every model file's content against the SHA-256 its sidecar recorded (in
:mod:`leapfactual.io`), that the pair is the one ``run.json`` recorded when it was fitted, every
entry of ``run.json`` against :data:`META_SCHEMA`, and the flow against the classifier it was
fitted on, so a swapped or damaged model is refused rather than explained. ``fit_run`` holds
the directory's lock while it writes (a second job is refused, naming the first one's pid). Under
``torchrun`` every rank calls :func:`fit_run` with the same arguments: each stage trains
data-parallel (see :func:`leapfactual.training.fit`), rank 0 alone writes the files, and the
other ranks wait for it at each stage.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import Tensor, nn

from leapfactual._memory import Size, sized_by
from leapfactual._version import __version__
from leapfactual.data import Dataset, stratified_split
from leapfactual.distributed import barrier, init, resolve_device
from leapfactual.explain import Explainer, Models, Outputs, build_explainer
from leapfactual.flow import VectorField, load_field, save_field
from leapfactual.io import (
    CheckpointError,
    exclusive,
    load_module,
    load_tensors,
    parse_json,
    read_sidecar,
    save_module,
    save_tensors,
    subdirectory,
    write_json,
)
from leapfactual.metrics import codec_quality, conditional_sample_accuracy
from leapfactual.models import Classifier, CNNClassifier, ConvVAE, accuracy, adapt_classifier
from leapfactual.pipeline import build
from leapfactual.pipeline.data import data_fingerprint, load_run_data, resolve_data_spec
from leapfactual.pipeline.probe import codec_fix
from leapfactual.pipeline.settings import (
    STAGE_NAMES,
    FitSettings,
    VAESettings,
    check_stages,
    to_dict,
)
from leapfactual.pipeline.user_models import (
    UserModels,
    check_recorded,
    load_user_models,
    reload_user_classifier,
    reload_user_codec,
)
from leapfactual.pipeline.verdict import (
    Verdict,
    accuracy_check,
    assess,
    is_verdict,
    reads_the_data,
)
from leapfactual.training import Callback, attached

STAGES = STAGE_NAMES
M = TypeVar("M")
RUN_FORMAT = 2
GO_ON = ("vae.probe", "classifier.accept_chance")
"""Settings that only let a stopped fit go on: changing them refits nothing."""


@dataclass
class Run:
    """A fitted (or partly fitted) run: its settings, data split, models and measurements.

    The dataset is loaded only when it is needed (``run.train`` / ``run.test``), so a run
    explains a user's own images even where its training data is not.
    """

    directory: Path
    config: FitSettings
    train_idx: Tensor
    test_idx: Tensor
    meta: dict[str, Any] = field(default_factory=dict)
    vae: nn.Module | None = None
    classifier: Callable[[Tensor], Tensor] | None = None
    flow: VectorField | None = None
    oracle: nn.Module | None = None
    cvae: nn.Module | None = None
    _data: Dataset | None = None

    @property
    def dataset(self) -> Dataset:
        if self._data is None:
            recorded = self.meta.get("data", {})
            self._data = load_run_data(self.directory, self.config.data, recorded, self.config)
        return self._data

    @property
    def train(self) -> Dataset:
        return self.dataset.subset(self.train_idx)

    @property
    def test(self) -> Dataset:
        return self.dataset.subset(self.test_idx)

    @property
    def class_names(self) -> list[str]:
        return list(self.meta.get("data", {}).get("class_names") or self.dataset.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        shape = self.meta.get("data", {}).get("shape")
        return tuple(shape) if shape else self.dataset.shape

    @property
    def summary(self) -> dict[str, Any]:
        """Measured numbers (accuracies, reconstruction quality)."""
        return dict(self.meta.get("summary", {}))

    @property
    def warnings(self) -> list[str]:
        """One-line warnings from fitting (e.g. a codec that loses what the classifier sees)."""
        return list(self.meta.get("warnings", []))

    @property
    def verdict(self) -> Verdict | None:
        """May this run's CEs be trusted at all (:mod:`leapfactual.pipeline.verdict`)? The
        verdict ``fit`` stored, else one made from the stored measurements; None when they
        do not suffice (a run fitted before verdicts, or without its flow)."""
        stored = self.meta.get("verdict")
        if stored is not None:
            return Verdict.from_dict(stored)
        return run_verdict(self)

    @property
    def outputs(self) -> Outputs:
        """What the classifier returns: ``logits`` or ``probs``; ``value`` for a regressor."""
        if self.config.classifier.kind == "regressor":
            return "value"
        return "probs" if self.config.classifier.outputs == "probs" else "logits"

    @property
    def classifier_identity(self) -> str | None:
        """The SHA-256 of the classifier's file: the user's (``classifier.spec``) or the
        run's own ``classifier.safetensors``."""
        source = self.meta.get("classifier_source")
        if source:
            return str(source["sha256"])
        return self.meta.get("files", {}).get("classifier")

    def models(self) -> Models:
        """The run's models for :func:`~leapfactual.explain.registry.build_explainer`; the
        reflection probe fits on the training images (loaded only if it is built)."""
        return Models(
            self.fitted_classifier(),
            self.vae,
            self.flow,
            self.cvae,
            probe_images=lambda: self.train.images,
            outputs=self.outputs,
        )

    def explainer(
        self,
        method: str = "leapfactual",
        *,
        reliable: bool = False,
        device: str | torch.device | None = None,
        **options: Any,
    ) -> Explainer:
        """The registered ``method`` on this run's models (LeapFactual by default), built with
        ``options`` (its constructor's keywords; defaults are the method's own).

        ``device`` moves the run's models there first (default: where they are).
        """
        if device is not None:
            self.to(device)
        explainer, _ = build_explainer(method, self.models(), reliable=reliable, **options)
        return explainer

    def to(self, device: str | torch.device) -> Run:
        """Move every fitted model to ``device``; return the run."""
        for stage in STAGES:
            model = getattr(self, stage)
            if isinstance(model, nn.Module):
                model.to(device)
        return self

    @property
    def device(self) -> torch.device:
        """Where the models are (the CPU for a run with none fitted yet)."""
        for stage in STAGES:
            model = getattr(self, stage)
            if isinstance(model, nn.Module):
                return build.model_device(model)
        return torch.device("cpu")

    def require(self, *stages: str) -> None:
        """Raise a clear error unless ``stages`` are fitted."""
        missing = [s for s in stages if getattr(self, s) is None]
        if missing:
            raise self._not_fitted(missing)

    def fitted_classifier(self) -> Classifier:
        """The classifier; :meth:`require`'s error when the run has none yet."""
        return self._fitted("classifier", self.classifier)

    def fitted_vae(self) -> nn.Module:
        """The codec (the ``vae`` stage); :meth:`require`'s error when the run has none yet."""
        return self._fitted("vae", self.vae)

    def fitted_flow(self) -> VectorField:
        """The flow; :meth:`require`'s error when the run has none yet."""
        return self._fitted("flow", self.flow)

    def _fitted(self, stage: str, model: M | None) -> M:
        if model is None:
            raise self._not_fitted([stage])
        return model

    def _not_fitted(self, missing: list[str]) -> ValueError:
        return ValueError(
            f"run {self.directory} has no {', '.join(missing)} yet; fit it with "
            f"`leapfactual fit --out {self.directory} --stages {','.join(missing)}`"
        )


def fit_run(
    directory: str | Path,
    config: FitSettings = FitSettings(),
    stages: tuple[str, ...] = ("vae", "classifier", "flow"),
    progress: bool = False,
    dataset: Dataset | None = None,
    device: str | torch.device | None = None,
    callbacks: Sequence[Callback] = (),
) -> Run:
    """Fit the missing ``stages`` of the run in ``directory`` and return the run.

    A directory fitted before with other settings is refused (choose another directory).
    ``dataset`` overrides loading ``config.data`` (e.g. a dataset built in memory).
    ``device``: where to train (default: this rank's GPU when there is one, else the CPU).
    With ``config.classifier.spec`` the user's classifier is loaded (never trained) and the
    flow is conditioned on its outputs. Under ``torchrun`` the stages train on all ranks;
    rank 0 writes the files. ``callbacks`` hear of every step and epoch of every stage
    trained (``stage``: the stage's name; see :mod:`leapfactual.training.callbacks`).
    """
    check_stages(stages)
    config = replace(config, data=resolve_data_spec(config.data))
    out = Path(directory)
    ranks = init()
    target = resolve_device(device, ranks)
    with exclusive(out, "fit") if ranks.is_main else nullcontext():
        new = [name for name in RUN_FILES if not (out / name).exists()] if ranks.is_main else []
        try:
            with attached(callbacks):
                return _fit(out, config, stages, progress, dataset, target)
        except Exception:
            _remove_unfitted(out, new)
            raise


RUN_FILES = ("run.json", "split.safetensors", "split.json")
"""What ``fit`` writes before its first stage (see :func:`_remove_unfitted`)."""


def _remove_unfitted(out: Path, new: list[str]) -> None:
    """After a failed fit of ``out``: when nothing of a stage is saved there (no stage file,
    no epoch checkpoint), remove the files of :data:`RUN_FILES` this fit made (``new``) and
    its empty checkpoint folders; otherwise keep all, so that the same command resumes."""
    checkpoints = out / "checkpoints"
    real = checkpoints.is_dir() and not checkpoints.is_symlink()
    folders = [checkpoints / s for s in STAGES] if real else []
    folders = [f for f in folders if f.is_dir() and not f.is_symlink()]
    saved = any((out / f"{stage}.safetensors").exists() for stage in STAGES)
    if not new or saved or any(any(folder.iterdir()) for folder in folders):
        return
    for name in new:
        (out / name).unlink(missing_ok=True)
    for folder in folders:
        folder.rmdir()
    if real and not any(checkpoints.iterdir()):
        checkpoints.rmdir()


def _fit(
    out: Path,
    config: FitSettings,
    stages: tuple[str, ...],
    progress: bool,
    dataset: Dataset | None,
    target: torch.device,
) -> Run:
    """:func:`fit_run` once its directory is held (rank 0) and its device resolved."""
    ranks = init()
    meta: dict[str, Any] = {}
    if (out / "run.json").exists():
        meta = read_meta(out)
    data = dataset if dataset is not None else load_run_data(out, config.data, {}, config)
    channels, size, _ = data.shape
    config = replace(config, vae=config.vae.for_images(channels, size))  # vae.kind = auto
    if meta:
        old = to_dict(FitSettings.from_dict(meta["config"]))
        diff = [k for k in _differences(old, to_dict(config)) if k not in GO_ON]
        if diff:
            raise ValueError(
                f"{out} was fitted with other settings ({', '.join(diff)} differ); use another "
                "output directory, or delete it to start over"
            )
    info = _data_info(data, config)
    if meta.get("data", {}).get("fingerprint") not in (None, info["fingerprint"]):
        raise ValueError(
            f"{out} was fitted on other data than {config.data!r} holds now (fingerprint "
            f"{meta['data']['fingerprint']} vs {info['fingerprint']}); use another directory"
        )
    user = load_user_models(config, data, target, stages)  # probed before anything is written
    check_recorded(out, meta, user)
    meta = {**meta, "config": to_dict(config), "data": {**meta.get("data", {}), **info}}
    meta.update(user.meta)
    if ranks.is_main:
        out.mkdir(parents=True, exist_ok=True)
        if not (out / "split.safetensors").exists():
            train_idx, test_idx = stratified_split(
                data.labels, [1 - config.test_fraction, config.test_fraction], config.seed
            )
            save_tensors(out / "split", {"train": train_idx, "test": test_idx}, {"kind": "split"})
        _write_meta(out, meta)
    barrier()
    run = _assemble(out, config, meta, target, data, user)
    external = config.classifier.spec is not None
    guided = config.vae.agreement > 0
    wanted = _closure(stages, external, guided)
    # the classifier first: a bad spec or a classifier at chance stops the fit before the
    # VAE trains, and the VAE's collapse probe (and vae.agreement) can watch it
    order = sorted(wanted, key=lambda s: (s != "classifier", STAGES.index(s)))
    for stage in order:
        if getattr(run, stage) is None:
            sizes = stage_sizes(config, stage)
            with sized_by(f"fitting the {stage}", sizes), attached((), stage=stage):
                _fit_stage(run, stage, progress and ranks.is_main, ranks.is_main, target)
        else:
            _adopt_training(run, stage)
        stamp = _measured_with(run, stage)
        if stamp is None or run.meta.get("measured", {}).get(stage) != stamp:
            measured = {k: v for k, v in _measure(run, stage).items() if math.isfinite(v)}
            run.meta.setdefault("summary", {}).update(measured)
            if stamp is not None:
                run.meta.setdefault("measured", {})[stage] = stamp
            if ranks.is_main:
                _write_meta(out, run.meta)
        if stage == "classifier":
            check_above_chance(run)
    verdict = run_verdict(run)
    run.meta["verdict"] = None if verdict is None else verdict.to_dict()
    run.meta["warnings"] = fit_warnings(run)
    if ranks.is_main:
        _write_meta(out, run.meta)
    barrier()
    return run


def _adopt_training(run: Run, stage: str) -> None:
    """A stage the run did not train itself (its file copied from another run) brings the
    training record its file carries (epochs, optimiser steps, why it stopped) into the run's
    meta, so its verdict counts the VAE's steps; nothing when the run has a record already."""
    path = run.directory / f"{stage}.safetensors"
    if stage in run.meta.get("stopping", {}) or not path.exists():
        return
    record = read_sidecar(path).get("training")
    if not isinstance(record, dict) or not isinstance(record.get("steps"), int):
        return
    run.meta.setdefault("stopping", {})[stage] = record
    if stage == "vae":
        run.meta["vae_steps"] = record["steps"]


CHANNELS_LAST = (CNNClassifier, ConvVAE)
"""Built-in models that measured faster on the CPU with channels-last weights, outputs equal
within 1e-6 (``benchmarks/speed.py`` pairs a run's explain call both ways)."""


def fast_layout(model: nn.Module) -> nn.Module:
    """``model`` with channels-last weights where that measured faster (a built-in model of
    :data:`CHANNELS_LAST` on the CPU); any other model as it is."""
    on_cpu = all(p.device.type == "cpu" for p in model.parameters())
    if isinstance(model, CHANNELS_LAST) and on_cpu:
        build.to_memory_format(model, torch.channels_last)
    return model


def load_run(
    directory: str | Path,
    dataset: Dataset | None = None,
    device: str | torch.device = "cpu",
) -> Run:
    """Load a run directory written by :func:`fit_run` (whatever stages it has) onto ``device``.

    Every model file is checked against the SHA-256 recorded when it was written, and a user
    classifier or codec against the hashes of every file it was fitted on and against its
    recorded answers on a fixed probe batch. A run file never makes an import happen: a
    user's entry point is located without importing it, and imported only when its module
    file has the recorded hash and lies neither in the run's nor in the working directory.
    Built-in models run with the faster weight layout (:func:`fast_layout`); a fit keeps
    the layout it trained in, so a run fitted in steps equals one fitted at once.
    """
    out = Path(directory)
    meta = read_meta(out)
    config = FitSettings.from_dict(meta["config"])
    run = _assemble(out, config, meta, torch.device(device), dataset)
    for stage in ("classifier", "vae", "oracle"):
        model = getattr(run, stage)
        if isinstance(model, nn.Module):
            fast_layout(model)
    return run


def fit_warnings(run: Run) -> list[str]:
    """One-line warnings, each with its fix: the checks of the run's verdict that did not
    pass (see :func:`run_verdict`)."""
    verdict = run_verdict(run)
    return [] if verdict is None else [c.warning() for c in verdict.reasons]


def run_verdict(run: Run) -> Verdict | None:
    """The run's :class:`~leapfactual.pipeline.verdict.Verdict` from its measurements (None
    when they do not suffice: a run without its flow, or fitted before verdicts)."""
    channels, size, _ = run.image_shape
    return assess(
        run.summary,
        regression=run.outputs == "value",
        num_classes=len(run.class_names),
        steps=run.meta.get("vae_steps"),
        codec_fix=codec_fix(run.config.vae, channels, size),
        agreement_fix=_agreement_fix(run),
    )


def fit_summary(run: Run) -> dict[str, Any]:
    """The run's fit for the top of a page, as a person reads it: its name and verdict, the
    data's size, and the measured quality of the codec, the classifier and the flow (the
    measurements it has)."""
    verdict = run.verdict
    out: dict[str, Any] = {
        "run": run.directory.name,
        "run verdict": "unknown (fitted before verdicts)" if verdict is None else verdict.level,
        "data": f"{run.config.data}: {len(run.train_idx)} training / {len(run.test_idx)} "
        "held-out images",
    }
    words = {
        "vae_test_psnr": "codec: held-out PSNR (dB)",
        "vae_test_ssim": "codec: held-out SSIM",
        "vae_test_variance_kept": "codec: share of the images' variation kept",
        "classifier_test_accuracy": "classifier: held-out accuracy",
        "classifier_agreement_on_reconstructions": "classifier: agreement on reconstructions",
        "regressor_test_mae": "regressor: held-out mean absolute error",
        "regressor_change_on_reconstructions": "regressor: change on reconstructions",
        "flow_sample_accuracy": "flow: samples in the class drawn for",
    }
    summary = run.summary
    out.update({label: summary[key] for key, label in words.items() if key in summary})
    return out


def check_above_chance(run: Run) -> None:
    """Stop with one line when the run's classifier (or regressor) is no better than chance
    on its labelled held-out images, unless ``classifier.accept_chance``."""
    check = accuracy_check(run.summary, run.outputs == "value")
    if check.status != "fail" or run.config.classifier.accept_chance:
        return
    raise ValueError(
        f"{check.message}; {check.fix}, or explain it all the same with --set "
        "classifier.accept_chance=true (the run is then marked untrusted)"
    )


def _agreement_fix(run: Run) -> str:
    """What to change when the classifier disagrees with itself on reconstructions."""
    size, work = getattr(run.vae, "image_size", None), getattr(run.vae, "work_size", None)
    inside = (
        f"; it works at {work} px inside, so finer detail is lost (--set vae.work_size={size})"
        if isinstance(work, int) and isinstance(size, int) and work < size
        else ""
    )
    return (
        "train the VAE longer (--set vae.epochs=...), with a smaller KL weight (--set "
        "vae.beta=...), a larger latent (--latent-dim), vae.kind = 'resnet', or through the "
        f"classifier (--set vae.agreement=0.01){inside}"
    )


# -- internals ----------------------------------------------------------------------------
def _differences(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    diff = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            diff += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            diff.append(prefix + key)
    return diff


def _closure(stages: tuple[str, ...], external: bool, guided: bool) -> set[str]:
    needs = {"flow": {"vae", "classifier"}, "cvae": {"classifier"}, "oracle": set()}
    if guided:
        needs["vae"] = {"classifier"}  # vae.agreement trains the codec through it
    out = set(stages)
    for s in stages:
        out |= needs.get(s, set())
    if external:
        out.add("classifier")  # loading it costs nothing and every later stage reads it
    return out


def _data_info(data: Dataset, config: FitSettings) -> dict[str, Any]:
    return {
        "spec": config.data,
        "shape": list(data.shape),
        "class_names": list(data.class_names),
        "size": len(data),
        "fingerprint": data_fingerprint(data),
    }


def read_meta(out: Path) -> dict[str, Any]:
    """The parsed ``run.json`` of ``out`` (clear errors for a missing, damaged or old one)."""
    path = out / "run.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{out} is not a leapfactual run (no run.json); create one with `leapfactual fit`"
        )
    meta = parse_json(path.read_bytes(), path)
    if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
        raise CheckpointError(f"{path} is not a run file (no settings); re-fit the run")
    if meta.get("run_format") != RUN_FORMAT:
        raise CheckpointError(
            f"{out} was written by leapfactual {meta.get('leapfactual_version', '?')} in run "
            f"format {meta.get('run_format')}; this version ({__version__}) reads format "
            f"{RUN_FORMAT}. Re-fit the run with this version."
        )
    for key, (check, kind) in META_SCHEMA.items():
        if key in meta and not check(meta[key]):
            raise CheckpointError(
                f"{path}: '{key}' must be {kind}; the file was edited or damaged. Restore it "
                "or re-fit the run"
            )
    return meta


def _strs(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _table(value: Any, item: Callable[[Any], bool]) -> bool:
    return isinstance(value, dict) and all(item(v) for v in value.values())


def _data_meta(value: Any) -> bool:
    shape = value.get("shape") if isinstance(value, dict) else None
    return isinstance(value, dict) and (
        (shape is None or (isinstance(shape, list) and len(shape) == 3 and _sizes(shape)))
        and _strs(value.get("class_names", []))
        and all(isinstance(value.get(k, ""), str) for k in ("spec", "fingerprint"))
    )


def _sizes(values: list[Any]) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


SOURCE_ENTRIES: dict[str, Callable[[Any], bool]] = {
    "spec": lambda v: isinstance(v, str),
    "kind": lambda v: isinstance(v, str),
    "sha256": lambda v: isinstance(v, str),  # a run pins every model it loads
    "files": lambda v: _table(v, lambda h: isinstance(h, str)),
    "output": lambda v: isinstance(v, str),
    "preprocess": lambda v: isinstance(v, dict),
    "class_names": lambda v: v is None or _strs(v),
    "fingerprint": lambda v: (
        isinstance(v, list)
        and all(isinstance(row, list) and all(_number(x) for x in row) for row in v)
    ),
    "latent_shape": lambda v: isinstance(v, list) and _sizes(v),
    "latent_shift": _number,
    "latent_scale": lambda v: _number(v) and v > 0,
    "value_range": lambda v: isinstance(v, list) and len(v) == 2 and all(map(_number, v)),
}
"""What each entry of a user model's record in ``run.json`` must be."""


def _source(value: Any) -> bool:
    return value is None or (
        isinstance(value, dict)
        and {"spec", "sha256"} <= set(value)
        and all(key in SOURCE_ENTRIES and SOURCE_ENTRIES[key](v) for key, v in value.items())
    )


META_SCHEMA: dict[str, tuple[Callable[[Any], bool], str]] = {
    "files": (lambda v: _table(v, lambda h: isinstance(h, str)), "an object of SHA-256 texts"),
    "measured": (
        lambda v: _table(v, lambda t: _table(t, lambda h: isinstance(h, str))),
        "an object of stages, each an object of SHA-256 texts",
    ),
    "data": (_data_meta, "an object (spec, shape [C, H, W], class_names, fingerprint)"),
    "summary": (
        lambda v: _table(v, lambda x: isinstance(x, int | float) and not isinstance(x, bool)),
        "an object of numbers",
    ),
    "warnings": (_strs, "a list of texts"),
    "classifier_source": (_source, "null or an object (spec, kind, sha256, files, ...)"),
    "codec_source": (_source, "null or an object (spec, kind, sha256, files, latent scale)"),
    "notes": (_strs, "a list of texts"),
    "flow_classifier": (lambda v: v is None or isinstance(v, str), "null or a SHA-256 text"),
    "vae_classifier": (lambda v: v is None or isinstance(v, str), "null or a SHA-256 text"),
    "vae_steps": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "stopping": (
        lambda v: _table(v, lambda r: isinstance(r, dict) and isinstance(r.get("reason"), str)),
        "an object of stage records (epochs, reason, ...)",
    ),
    "verdict": (
        lambda v: v is None or is_verdict(v),
        "null or an object (level trusted / caution / untrusted, checks)",
    ),
}
"""What each entry of ``run.json`` besides ``config`` (checked by its settings) must be."""


def _write_meta(out: Path, meta: dict[str, Any]) -> None:
    meta = {
        **meta,
        "run_format": RUN_FORMAT,
        "leapfactual_version": __version__,
        "torch_version": torch.__version__,
    }
    write_json(out / "run.json", meta, indent=2)


def _assemble(
    out: Path,
    config: FitSettings,
    meta: dict[str, Any],
    device: torch.device,
    data: Dataset | None,
    user: UserModels | None = None,
) -> Run:
    """The run in ``out`` with its models loaded; ``user``: the user's classifier and codec,
    loaded and probed by ``fit`` (None: load them from what ``run.json`` records)."""
    split, _ = load_tensors(out / "split")
    run = Run(out, config, split["train"], split["test"], meta, _data=data)
    if data is not None:
        _check_split(run, data)
    files = meta.get("files", {})
    for stage in STAGES:
        path = out / f"{stage}.safetensors"
        if path.exists():
            recorded = files.get(stage)
            written = read_sidecar(path)["sha256"]  # the content itself is checked on load
            if recorded is not None and written != recorded:
                raise CheckpointError(
                    f"{path} changed since the run was fitted (SHA-256 {written[:12]}, "
                    f"recorded {recorded[:12]}): the file was replaced; restore it or re-fit "
                    "the run into a new directory"
                )
            base = out / stage
            model = load_field(base, device) if stage == "flow" else load_module(base, device)
            setattr(run, stage, model)
    if user is not None:
        run.classifier = run.classifier if user.classifier is None else user.classifier
        run.vae = run.vae if user.codec is None else user.codec
        return run
    shape = run.image_shape
    if meta.get("codec_source") is not None:
        run.vae = reload_user_codec(meta["codec_source"], config, out, device)
    if meta.get("classifier_source") is not None:
        source = meta["classifier_source"]
        run.classifier = adapt_classifier(
            reload_user_classifier(source, config, out, device, shape)
        )
    return run


def _check_split(run: Run, data: Dataset) -> None:
    top = int(torch.cat([run.train_idx, run.test_idx]).max())
    if top >= len(data):
        raise CheckpointError(
            f"{run.directory}/split indexes {top + 1} samples but the dataset "
            f"{run.config.data!r} has {len(data)}: the run was fitted on other data"
        )


def stage_sizes(config: FitSettings, stage: str) -> list[Size]:
    """The settings that size the fitting of ``stage`` (its batch first), with defaults."""
    settings, defaults = getattr(config, stage), getattr(FitSettings(), stage)
    sizes = []
    for name in ("batch_size", "width", "latent_dim", "depth"):
        if not hasattr(settings, name):
            continue
        value, default = getattr(settings, name), getattr(defaults, name)
        if isinstance(settings, VAESettings) and name == "width":  # the kind's default
            kind = settings if settings.kind != "auto" else replace(settings, kind="conv")
            value, default = kind.base_width, kind.defaults.width
        sizes.append(Size(f"{stage}.{name}", value, default, f"--set {stage}.{name}=N"))
    return sizes


def _fit_stage(run: Run, stage: str, progress: bool, write: bool, device: torch.device) -> None:
    cfg, out = run.config, run.directory
    seed = cfg.seed + STAGES.index(stage)
    ckpt = out / "checkpoints" / stage
    record: dict[str, Any] = {}
    options: dict[str, Any] = {
        "progress": progress,
        "checkpoint": ckpt,
        "device": device,
        "record": record,
    }
    if write:
        subdirectory(out, "checkpoints", stage)  # refuses a planted link: never written through
    train = run.train
    if stage == "vae":
        guide = run.classifier if cfg.vae.agreement > 0 else None
        model: nn.Module = build.fit_vae(
            train.images,
            cfg.vae,
            seed,
            classifier=guide,
            outputs=run.outputs,
            watch=run.classifier if reads_the_data(run.summary, run.outputs == "value") else None,
            **options,
        )
        run.meta["vae_steps"] = record["steps"]
        if guide is not None:
            run.meta["vae_classifier"] = run.classifier_identity
    elif stage == "classifier" and run.outputs == "value":
        if train.values is None:
            raise ValueError(
                f"a regressor learns scalar values, but the data {cfg.data!r} has none; use a "
                "dataset with values (e.g. --data stroke-thickness)"
            )
        model = build.fit_regressor(train.images, train.values, cfg.classifier, seed, **options)
    elif stage in ("classifier", "oracle"):
        settings = cfg.classifier if stage == "classifier" else cfg.oracle
        model = build.fit_classifier(
            train.images, train.labels, train.num_classes, settings, seed, **options
        )
    elif stage == "cvae" and run.outputs == "value":
        raise ValueError(
            "the cvae stage serves the CGM baseline, which explains classifiers only; drop it "
            "from --stages for a regressor"
        )
    elif stage == "cvae":
        probs = build.predict_probs(run.fitted_classifier(), train.images, run.outputs)
        model = build.fit_cvae(train.images, probs, cfg.cvae, seed, **options)
    else:
        model = build.fit_flow_for(
            run.fitted_classifier(),
            run.fitted_vae(),
            train.images,
            cfg.flow,
            seed,
            outputs=run.outputs,
            **options,
        )
        run.meta["flow_classifier"] = run.classifier_identity
    run.meta.setdefault("stopping", {})[stage] = record
    if write:
        if isinstance(model, VectorField):
            save_field(model, out / stage, training=record)
        else:
            save_module(model, out / stage, training=record)
        run.meta.setdefault("files", {})[stage] = read_sidecar(out / stage)["sha256"]
        if stage == "classifier":
            run.meta["classifier_source"] = None
        shutil.rmtree(ckpt, ignore_errors=True)
    setattr(run, stage, model)
    barrier()


MEASURED_FROM = {
    "vae": ("vae",),
    "classifier": ("classifier",),
    "oracle": ("oracle",),
    "flow": ("vae", "classifier", "flow"),
    "cvae": ("cvae",),
}
"""The stages whose weights a stage's held-out measurements (:func:`_measure`) depend on."""


def _measured_with(run: Run, stage: str) -> dict[str, str] | None:
    """The file hashes a stage's measurements depend on now; None when one has none (a
    user's model): then it is measured on every fit. A stage measured with these hashes
    before (``run.json``'s ``measured``) is not measured again when a fit reuses it."""
    files = run.meta.get("files", {})
    hashes = {s: files.get(s) for s in MEASURED_FROM[stage]}
    return None if any(h is None for h in hashes.values()) else hashes


@torch.no_grad()
def _measure(run: Run, stage: str) -> dict[str, float]:
    test = run.test
    if run.outputs == "value" and stage in ("classifier", "flow"):
        return _measure_regressor(run, stage, test)
    if stage in ("classifier", "oracle"):
        model = getattr(run, stage)
        width = probs_width(run, model)
        shares = torch.bincount(test.labels, minlength=test.num_classes).double() / len(test)
        own = {"classifier_outputs": float(width), "classifier_chance": float(shares.max())}
        if width != test.num_classes:  # a user classifier of other classes
            return own if stage == "classifier" else {}
        scores = {f"{stage}_test_accuracy": accuracy(model, test.images, test.labels)}
        return scores | own if stage == "classifier" else scores
    if stage == "vae":
        quality = codec_quality(run.vae, test.images)
        return {
            "vae_test_psnr": quality["psnr"],
            "vae_test_ssim": quality["ssim"],
            "vae_test_variance_kept": quality["variance_kept"],
        }
    if stage == "flow":
        quality = codec_quality(
            run.vae, test.images, run.classifier, test.labels, outputs=run.outputs
        )
        out = {"classifier_agreement_on_reconstructions": quality["agreement"]}
        if "accuracy" in quality:
            out["classifier_accuracy_on_reconstructions"] = quality["accuracy"]
        classifier, flow = run.classifier, run.flow
        assert classifier is not None and flow is not None  # the flow stage needs both
        if probs_width(run, classifier) == test.num_classes:
            out["flow_sample_accuracy"] = conditional_sample_accuracy(
                flow,
                run.vae,
                classifier,
                test.num_classes,
                seed=run.config.seed,
                source=build.flow_source(run.config.flow),
            )
        return out
    return {}


def _measure_regressor(run: Run, stage: str, test: Dataset) -> dict[str, float]:
    """Held-out mean absolute error of the regressor (``classifier``) and its mean absolute
    change between images and their VAE reconstructions (``flow``)."""
    values = build.predict_probs(run.fitted_classifier(), test.images, "value")[:, 0]
    if stage == "classifier":
        if test.values is None:
            return {}
        mean = float(run.train.values.mean()) if run.train.values is not None else math.nan
        return {
            "regressor_test_mae": float((values - test.values).abs().mean()),
            "regressor_baseline_mae": float((test.values - mean).abs().mean()),
        }
    _, recon = build.encode_decode(run.vae, test.images)
    after = build.predict_probs(run.fitted_classifier(), recon, "value")[:, 0]
    return {
        "regressor_change_on_reconstructions": float((after - values).abs().mean()),
        "regressor_output_std": float(values.std()) if len(values) > 1 else math.nan,
    }


def probs_width(run: Run, model: Callable[[Tensor], Tensor]) -> int:
    """How many classes ``model`` answers for the run's images."""
    probe = run.test.images[:1].to(run.device)
    return int(build.predict_probs(model, probe, run.outputs).shape[1])


__all__ = [
    "STAGES",
    "FitSettings",
    "Run",
    "fit_run",
    "fit_summary",
    "fit_warnings",
    "load_run",
    "read_meta",
    "run_verdict",
]
