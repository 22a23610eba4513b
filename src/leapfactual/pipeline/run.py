"""A run directory: everything needed to explain a classifier on one dataset.

``fit_run`` trains, in order, the VAE (the codec), the classifier being explained, and the
CE-CFM flow conditioned on that classifier's outputs; optional stages add an oracle classifier
(other architecture and seed, for oracle validity) and a conditional VAE (for the CGM baseline).
Every stage is saved as safetensors + JSON as soon as it is done and reused when the run is
fitted again; a stage interrupted mid-training resumes from its last epoch checkpoint.

Layout::

    run.json                 settings, dataset, versions, measured accuracies
    split.safetensors/.json  train / test indices into the dataset
    vae.*  classifier.*  flow.*  [oracle.*  cvae.*]
    checkpoints/STAGE/       epoch checkpoints while a stage trains (removed when it is done)

Under ``torchrun`` every rank calls :func:`fit_run` with the same arguments: each stage trains
data-parallel (see :func:`leapfactual.training.fit`), rank 0 alone writes the files, and the
other ranks wait for it at each stage.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from leapfactual._version import __version__
from leapfactual.data import Dataset, load_dataset, stratified_split
from leapfactual.distributed import barrier, default_device, init
from leapfactual.explain import Blend, Inject, LeapFactual
from leapfactual.flow import (
    MLPField,
    Solver,
    UNet1DField,
    VectorField,
    load_field,
    save_field,
    train_flow,
)
from leapfactual.flow.conditions import KINDS
from leapfactual.io import (
    CheckpointError,
    atomic_write_text,
    load_module,
    load_tensors,
    save_module,
    save_tensors,
)
from leapfactual.models import (
    CNNClassifier,
    ConditionalVAE,
    ConvVAE,
    accuracy,
    train_classifier,
    train_cvae,
    train_vae,
)

STAGES = ("vae", "classifier", "flow", "oracle", "cvae")
FIELDS = ("mlp", "unet")
RUN_FORMAT = 1


@dataclass(frozen=True)
class FitConfig:
    """Every setting of a run; defaults are sized for 4,000 MNIST digits on a 2-core CPU."""

    data: str = "mnist5k"
    test_fraction: float = 0.2
    seed: int = 0
    latent_dim: int = 32
    vae_width: int = 32
    vae_epochs: int = 20
    vae_lr: float = 2e-3
    vae_batch: int = 64
    classifier_width: int = 32
    classifier_epochs: int = 8
    classifier_lr: float = 2e-3
    classifier_batch: int = 64
    classifier_augment: int = 2
    flow_field: str = "mlp"  # "mlp" (MLPField) or "unet" (UNet1DField: width = base channels,
    flow_width: int = 64  # depth = downsamples) for latents of hundreds of dimensions
    flow_depth: int = 3
    flow_activation: str = "selu"
    flow_epochs: int = 30
    flow_lr: float = 5e-3
    flow_batch: int = 256
    condition: str = "softmax"
    oracle_width: int = 48
    cvae_epochs: int = 20

    def __post_init__(self) -> None:
        if self.condition not in KINDS:
            raise ValueError(
                f"unknown condition encoding {self.condition!r}; choose one of {list(KINDS)}"
            )
        if self.flow_field not in FIELDS:
            raise ValueError(f"unknown flow_field {self.flow_field!r}; choose from {list(FIELDS)}")
        if not 0 < self.test_fraction < 1:
            raise ValueError(f"test_fraction must lie in (0, 1), got {self.test_fraction}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FitConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown run settings {unknown}; known: {sorted(known)}")
        return cls(**data)


@dataclass
class Run:
    """A fitted (or partly fitted) run, its data split and its models."""

    directory: Path
    config: FitConfig
    dataset: Dataset
    train_idx: Tensor
    test_idx: Tensor
    vae: ConvVAE | None = None
    classifier: CNNClassifier | None = None
    flow: VectorField | None = None
    oracle: CNNClassifier | None = None
    cvae: ConditionalVAE | None = None
    summary: dict[str, Any] | None = None

    @property
    def train(self) -> Dataset:
        return self.dataset.subset(self.train_idx)

    @property
    def test(self) -> Dataset:
        return self.dataset.subset(self.test_idx)

    def explainer(
        self,
        blend: Blend = Blend(),
        inject: Inject | None = Inject(),
        solver: Solver = Solver("rk4", 4),
        device: str | torch.device | None = None,
        **options: Any,
    ) -> LeapFactual:
        """A LeapFactual explainer on this run's classifier, VAE and flow.

        ``device`` moves the run's models there first (default: where they are).
        """
        self.require("vae", "classifier", "flow")
        if device is not None:
            self.to(device)
        assert self.classifier is not None and self.vae is not None and self.flow is not None
        return LeapFactual(self.classifier, self.vae, self.flow, blend, inject, solver, **options)

    def to(self, device: str | torch.device) -> Run:
        """Move every fitted model to ``device``; return the run."""
        for stage in STAGES:
            model = getattr(self, stage)
            if model is not None:
                model.to(device)
        return self

    @property
    def device(self) -> torch.device:
        """Where the models are (the CPU for a run with none fitted yet)."""
        for stage in STAGES:
            model = getattr(self, stage)
            if model is not None:
                return next(model.parameters()).device
        return torch.device("cpu")

    def require(self, *stages: str) -> None:
        """Raise a clear error unless ``stages`` are fitted."""
        missing = [s for s in stages if getattr(self, s) is None]
        if missing:
            raise ValueError(
                f"run {self.directory} has no {', '.join(missing)} yet; fit it with "
                f"`leapfactual fit --out {self.directory}` (stages: {', '.join(missing)})"
            )


def fit_run(
    directory: str | Path,
    config: FitConfig = FitConfig(),
    stages: tuple[str, ...] = ("vae", "classifier", "flow"),
    progress: bool = False,
    dataset: Dataset | None = None,
    device: str | torch.device | None = None,
) -> Run:
    """Fit the missing ``stages`` of the run in ``directory`` and return the run.

    A directory fitted before with other settings is refused (choose another directory).
    ``dataset`` overrides loading ``config.data`` (e.g. a dataset built in memory).
    ``device``: where to train (default: this rank's GPU when there is one, else the CPU).
    Under ``torchrun`` the stages train on all ranks; rank 0 writes the files.
    """
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise ValueError(f"unknown stages {unknown}; choose from {list(STAGES)}")
    out = Path(directory)
    meta_path = out / "run.json"
    if meta_path.exists():
        old = _read_meta(out)
        before = {**asdict(FitConfig()), **old["config"]}  # settings added since then: defaults
        if before != asdict(config):
            diff = sorted(k for k, v in asdict(config).items() if before.get(k) != v)
            raise ValueError(
                f"{out} was fitted with other settings ({', '.join(diff)} differ); use another "
                "output directory, or delete it to start over"
            )
    ranks = init()
    target = torch.device(device) if device is not None else default_device(ranks)
    data = dataset if dataset is not None else load_dataset(config.data)
    if ranks.is_main:
        out.mkdir(parents=True, exist_ok=True)
        if not (out / "split.safetensors").exists():
            train_idx, test_idx = stratified_split(
                data.labels, [1 - config.test_fraction, config.test_fraction], config.seed
            )
            save_tensors(out / "split", {"train": train_idx, "test": test_idx}, {"kind": "split"})
    barrier()
    run = _assemble(out, config, data, target)
    summary = dict(run.summary or {})
    for stage in [s for s in STAGES if s in _closure(stages)]:
        if getattr(run, stage) is None:
            _fit_stage(run, stage, progress and ranks.is_main, ranks.is_main, target)
        summary.update(_measure(run, stage))
    run.summary = summary
    if ranks.is_main:
        _write_meta(out, config, summary)
    barrier()
    return run


def load_run(
    directory: str | Path,
    dataset: Dataset | None = None,
    device: str | torch.device = "cpu",
) -> Run:
    """Load a run directory written by :func:`fit_run` (whatever stages it has) onto ``device``."""
    out = Path(directory)
    meta = _read_meta(out)
    config = FitConfig.from_dict(meta["config"])
    data = dataset if dataset is not None else load_dataset(config.data)
    run = _assemble(out, config, data, torch.device(device))
    run.summary = meta.get("summary", {})
    return run


# -- internals ----------------------------------------------------------------------------
def _closure(stages: tuple[str, ...]) -> set[str]:
    needs = {"flow": {"vae", "classifier"}, "cvae": {"classifier"}}
    out = set(stages)
    for s in stages:
        out |= needs.get(s, set())
    return out


def _read_meta(out: Path) -> dict[str, Any]:
    path = out / "run.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{out} is not a leapfactual run (no run.json); create one with `leapfactual fit`"
        )
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{path} is not valid JSON ({err}); re-fit the run") from err
    if meta.get("run_format") != RUN_FORMAT:
        raise CheckpointError(
            f"{out} was written by leapfactual {meta.get('leapfactual_version', '?')} in run "
            f"format {meta.get('run_format')}; this version ({__version__}) reads format "
            f"{RUN_FORMAT}. Re-fit the run with this version."
        )
    return meta


def _write_meta(out: Path, config: FitConfig, summary: dict[str, Any]) -> None:
    meta = {
        "run_format": RUN_FORMAT,
        "leapfactual_version": __version__,
        "torch_version": torch.__version__,
        "config": asdict(config),
        "summary": summary,
    }
    atomic_write_text(out / "run.json", json.dumps(meta, indent=2))


def _assemble(out: Path, config: FitConfig, data: Dataset, device: torch.device) -> Run:
    split, _ = load_tensors(out / "split")
    if int(torch.cat([split["train"], split["test"]]).max()) >= len(data):
        raise CheckpointError(
            f"{out}/split indexes {int(split['train'].max()) + 1}+ samples but the dataset "
            f"{config.data!r} has {len(data)}: the run was fitted on other data"
        )
    run = Run(out, config, data, split["train"], split["test"])
    for stage in STAGES:
        if (out / f"{stage}.safetensors").exists():
            path = out / stage
            model = load_field(path, device) if stage == "flow" else load_module(path, device)
            setattr(run, stage, model)
    return run


def _fit_stage(run: Run, stage: str, progress: bool, write: bool, device: torch.device) -> None:
    cfg, out = run.config, run.directory
    train = run.train
    channels, size = train.shape[0], train.shape[1]
    ckpt = out / "checkpoints" / stage
    torch.manual_seed(cfg.seed + STAGES.index(stage))
    if stage == "vae":
        model: Any = ConvVAE(channels, size, cfg.latent_dim, cfg.vae_width).to(device)
        train_vae(
            model, train.images, cfg.vae_epochs, cfg.vae_batch, cfg.vae_lr, cfg.seed, progress, ckpt
        )
    elif stage in ("classifier", "oracle"):
        width = cfg.classifier_width if stage == "classifier" else cfg.oracle_width
        model = CNNClassifier(channels, size, train.num_classes, width).to(device)
        train_classifier(
            model,
            train.images,
            train.labels,
            cfg.classifier_epochs,
            cfg.classifier_batch,
            cfg.classifier_lr,
            cfg.seed + 1000 * (stage == "oracle"),
            cfg.classifier_augment,
            progress,
            ckpt,
        )
    elif stage == "cvae":
        model = ConditionalVAE(channels, size, cfg.latent_dim, train.num_classes, cfg.vae_width).to(
            device
        )
        train_cvae(
            model,
            train.images,
            _probs(run, train.images),
            cfg.cvae_epochs,
            cfg.vae_batch,
            cfg.vae_lr,
            cfg.seed,
            progress,
            ckpt,
        )
    else:
        if cfg.flow_field == "unet":
            model = UNet1DField(
                cfg.latent_dim,
                train.num_classes,
                cfg.flow_width,
                cfg.flow_depth,
                cfg.condition,  # type: ignore[arg-type]
            ).to(device)
        else:
            model = MLPField(
                cfg.latent_dim,
                train.num_classes,
                cfg.flow_width,
                cfg.flow_depth,
                cfg.flow_activation,
                cfg.condition,  # type: ignore[arg-type]
            ).to(device)
        latents, probs = _latents_and_probs(run, train.images)
        train_flow(
            model,
            latents,
            model.condition.from_probs(probs),
            cfg.flow_epochs,
            cfg.flow_batch,
            cfg.flow_lr,
            seed=cfg.seed,
            progress=progress,
            checkpoint=ckpt,
        )
    model.eval()
    if write:
        if stage == "flow":
            save_field(model, out / stage)
        else:
            save_module(model, out / stage)
        shutil.rmtree(ckpt, ignore_errors=True)
    setattr(run, stage, model)
    barrier()


@torch.no_grad()
def _probs(run: Run, images: Tensor, batch: int = 512) -> Tensor:
    assert run.classifier is not None
    device = run.device
    return torch.cat(
        [
            run.classifier(images[i : i + batch].to(device)).softmax(1).cpu()
            for i in range(0, len(images), batch)
        ]
    )


@torch.no_grad()
def _latents_and_probs(run: Run, images: Tensor, batch: int = 512) -> tuple[Tensor, Tensor]:
    """Encoder means and the classifier's probabilities on their decodings (CE-CFM condition)."""
    assert run.vae is not None
    device = run.device
    latents = torch.cat(
        [
            run.vae.encode(images[i : i + batch].to(device)).cpu()
            for i in range(0, len(images), batch)
        ]
    )
    recon = torch.cat(
        [
            run.vae.decode(latents[i : i + batch].to(device)).cpu()
            for i in range(0, len(latents), batch)
        ]
    )
    return latents, _probs(run, recon)


@torch.no_grad()
def _measure(run: Run, stage: str) -> dict[str, float]:
    test = run.test
    if stage in ("classifier", "oracle"):
        model = getattr(run, stage)
        return {f"{stage}_test_accuracy": accuracy(model, test.images, test.labels)}
    if stage == "vae":
        assert run.vae is not None
        x = test.images.to(run.device)
        recon = run.vae.decode(run.vae.encode(x))
        return {"vae_test_mse": float((recon - x).pow(2).mean())}
    if stage == "flow":
        assert run.classifier is not None and run.vae is not None
        _, probs = _latents_and_probs(run, test.images)
        return {
            "classifier_accuracy_on_reconstructions": float(
                (probs.argmax(1) == test.labels).float().mean()
            )
        }
    return {}
