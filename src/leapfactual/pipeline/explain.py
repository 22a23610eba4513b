"""Explain with a fitted run: in memory, or sharded to disk and resumable, from one call.

:func:`explain_run` is what ``leapfactual explain`` runs; a Python user gets the same job
(and can resume a CLI job) by calling it with the same arguments. In memory, the CEs are
made in one go and saved to ``out``. Sharded (``shard_size``, or always under ``torchrun``),
they stream to ``out/shards`` shard by shard (see :mod:`leapfactual.pipeline.shards`); the
job's identity (run, inputs, settings, targets) decides whether existing shards may be reused.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from leapfactual.distributed import init, resolve_device
from leapfactual.explain import (
    Explanation,
    StoredExplanation,
    build_explainer,
    check_target_spec,
    check_tolerance,
    method_info,
    parse_targets,
    value_targets,
)
from leapfactual.io import LOCK_NAME, check_free, clear, exclusive, refuse_link
from leapfactual.metrics import robustness
from leapfactual.pipeline.build import predict_probs
from leapfactual.pipeline.run import Run, load_run, read_meta
from leapfactual.pipeline.settings import ExplainSettings, to_dict
from leapfactual.pipeline.shards import ShardReport, explain_sharded, merge_shards
from leapfactual.training import Callback, attached, tensor_digest

logger = logging.getLogger(__name__)


@dataclass
class ExplainResult:
    """What :func:`explain_run` made: the explanation in memory (None for a sharded job),
    the run's class names, the input names, the shard report when sharded, the run's fit
    warnings, the run itself (loaded; e.g. its codec draws the report's latent trajectories),
    a sharded job's merged explanation, opened on disk to be read on demand (None when
    not merged, and on ranks other than 0), and the entries of ``out`` that ``force`` kept
    (not the job's)."""

    explanation: Explanation | None
    out: Path | None
    class_names: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    shards: ShardReport | None = None
    warnings: list[str] = field(default_factory=list)
    run: Run | None = None
    stored: StoredExplanation | None = None
    kept: list[str] = field(default_factory=list)


def resolve_inputs(
    run: Run, images: str | Sequence[str] | Tensor, limit: int = 0
) -> tuple[Tensor, list[str]]:
    """The images to explain and their names: ``"test"`` / ``"train"`` (the run's split),
    a tensor, or image files, folders, class-folder trees and quoted glob patterns (read at
    the run's image shape and channels, fitted by its ``aspect``). ``limit`` > 0: at most that
    many (a split's first, a class-folder tree's taken evenly over its classes, only the
    first of a glob pattern looked for); how many of how many is logged (INFO)."""
    if isinstance(images, Tensor):
        return images, []
    specs = [images] if isinstance(images, str | os.PathLike) else list(images)
    if len(specs) == 1 and str(specs[0]) in ("test", "train"):
        split = getattr(run, str(specs[0])).images
        taken = split[:limit] if limit else split
        logger.info(
            "explaining %d of the %d %s images%s",
            len(taken),
            len(split),
            specs[0],
            _cut(len(taken), len(split), limit),
        )
        return taken, []
    if any(str(s) in ("test", "train") for s in specs):
        raise ValueError("'test' and 'train' cannot be combined with other --images")
    from leapfactual.data import find_image_inputs, read_images

    channels, height, width = run.image_shape
    found = find_image_inputs([str(s) for s in specs], limit)
    n = len(found.files)
    if found.found is None:
        logger.info("explaining the first %d images found%s", n, _cut(n, n + 1, limit))
    else:
        evenly = " (taken evenly over the classes)" if found.balanced else ""
        cut = _cut(n, found.found, limit)
        logger.info("explaining %d of %d images found%s%s", n, found.found, evenly, cut)
    x = read_images(found.files, (height, width), channels, run.config.aspect)
    return x, found.names


def _cut(taken: int, held: int, limit: int) -> str:
    """What the limit did, when it left images out."""
    return f"; --limit {limit} (0: all)" if taken < held else ""


def explain_run(
    run: Run | str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    images: str | Sequence[str] | Tensor = "test",
    settings: ExplainSettings = ExplainSettings(),
    shard_size: int | None = None,
    repeat: int = 1,
    merge: bool = True,
    force: bool = False,
    device: str | torch.device | None = None,
    trajectory: str = "latents",
    progress: bool = False,
    callbacks: Sequence[Callback] = (),
) -> ExplainResult:
    """Counterfactuals of ``images`` with the run's models, saved to ``out`` when given.

    ``settings`` picks the method (any registered name), LeapFactual's schedule, the targets
    and the batch size. ``shard_size`` (or ``torchrun``) streams the CEs to ``out/shards``:
    memory stays flat, ranks share the shards, and calling again with the same arguments
    finishes an interrupted job (``force`` discards it). ``repeat`` cycles the inputs (scale
    tests). ``trajectory``: what in-memory explanations keep per leap (``none``, ``latents``,
    ``images``); sharded ones keep none. ``callbacks`` hear of every explained batch.
    """
    ranks = init()
    sharded = shard_size is not None or ranks.distributed
    if sharded and out is None:
        raise ValueError("a sharded explain job needs an output directory (out=...)")
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    target_dir = Path(out) if out is not None else None
    resuming = sharded and target_dir is not None and (target_dir / "shards" / "job.json").is_file()
    where = resolve_device(device, ranks)
    check_target_spec(settings.target, _own_classes(run))
    check_method(run, settings)
    with ExitStack() as held:
        held.enter_context(attached(callbacks))
        if target_dir is not None and ranks.is_main:
            held.enter_context(claim_output(target_dir, force, resuming))
        fitted = run if isinstance(run, Run) else load_run(Path(run), device=where)
        if device is not None:
            fitted.to(device)
        classifier = fitted.fitted_classifier()
        x, names = resolve_inputs(fitted, images, settings.limit)
        n = len(x) if settings.limit == 0 else min(settings.limit, len(x))
        if n == 0:
            raise ValueError("no inputs to explain (the image list or split is empty)")
        x = x[:n]
        probs = predict_probs(classifier, x, fitted.outputs)
        rows, targets = job_targets(settings, probs, fitted.outputs == "value", repeat)
        if sharded and settings.diverse > 1:
            raise ValueError(
                "diverse CEs are made in memory: drop --shard-size (and torchrun) or --diverse"
            )
        keep = "none" if sharded else trajectory
        options = method_options(settings, keep, progress and not sharded)
        explainer, output = build_explainer(settings.method, fitted.models(), **options)
        explainer.set_nonfinite(settings.nonfinite)
        warnings = fitted.warnings
        kept = []
        if force and target_dir is not None and ranks.is_main:  # all checked: now remove
            owned = OUTPUT_FILES[:-1] if sharded else OUTPUT_FILES  # shards: overwrite= below
            kept = [name for name in clear(target_dir, owned) if name != "shards/"]
        if sharded:
            assert target_dir is not None
            job = {
                "run": str(fitted.directory.resolve()),
                "images": _describe(images),
                "limit": n,
                "repeat": repeat,
                "settings": to_dict(settings),
            }
            report = explain_sharded(
                explainer,
                lambda idx: x[idx % n],
                targets,
                target_dir,
                rows=rows,
                shard_size=shard_size or 1024,
                job=job,
                overwrite=force,
                progress=progress and ranks.is_main,
            )
            stored = merge_shards(target_dir) if merge and ranks.is_main else None
            return ExplainResult(
                None, target_dir, fitted.class_names, names, report, warnings, fitted, stored, kept
            )
        exp = explainer.explain(x[rows % n], targets, settings.diverse)
        exp.robust = robustness(
            classifier,
            exp.x_cf,
            exp.target,
            codec=fitted.vae,
            outputs=fitted.outputs,
            tolerance=exp.tolerance,
            seed=settings.seed,
            batch=settings.batch_size,
        ).robust.to(exp.x.device)
        inputs = rows.repeat_interleave(settings.diverse) % n
        exp.config["inputs"] = [names[i] for i in inputs.tolist()] if names else str(images)
        exp.config["run"] = str(fitted.directory.resolve())
        verdict = fitted.verdict
        exp.config["verdict"] = None if verdict is None else verdict.to_dict()
        exp.config["warnings"] = warnings
        exp.config["output"] = output
        exp.config["settings"] = to_dict(settings)
        if target_dir is not None:
            exp.save(target_dir)
        return ExplainResult(
            exp, target_dir, fitted.class_names, names, None, warnings, fitted, kept=kept
        )


def check_method(run: Run | str | os.PathLike[str], settings: ExplainSettings) -> None:
    """Before anything is loaded: the method exists and takes the run's kind of model, and a
    regressor's job has a tolerance (a classifier's none)."""
    meta = run.meta if isinstance(run, Run) else read_meta(Path(run))
    kind = meta.get("config", {}).get("classifier", {}).get("kind", "classifier")
    info = method_info(settings.method)
    tolerance = settings.options.get("tolerance", settings.tolerance)
    outputs = "value" if kind == "regressor" else "logits"
    check_tolerance(info.name, info.regression, outputs, tolerance)


def _own_classes(run: Run | str | os.PathLike[str]) -> int | None:
    """How many classes the run's own classifier has, from ``run.json`` alone (None for a
    user's classifier, whose outputs are known only once it is loaded)."""
    meta = run.meta if isinstance(run, Run) else read_meta(Path(run))
    names = meta.get("data", {}).get("class_names")
    return None if meta.get("classifier_source") or not names else len(names)


def _describe(images: str | Sequence[str] | Tensor) -> str | list[str]:
    """The inputs of a job for its identity (a tensor by the digest of its values)."""
    if isinstance(images, Tensor):
        return f"tensor {tensor_digest(images)}"
    return images if isinstance(images, str) else [str(i) for i in images]


def job_targets(
    settings: ExplainSettings, probs: Tensor, regression: bool, repeat: int = 1
) -> tuple[Tensor, Tensor]:
    """Rows (into the inputs cycled ``repeat`` times) and targets of a job: classes from
    ``settings.target`` for a classifier's ``probs``, values from ``target_value`` /
    ``target_shift`` for a regressor's (``probs`` its values ``[N, 1]``)."""
    if regression:
        predictions = probs[:, 0].repeat(repeat)
        rows = torch.arange(len(predictions))
        return rows, value_targets(predictions, settings.target_value, settings.target_shift)
    if settings.target_value is not None or settings.target_shift is not None:
        raise ValueError(
            "--target-value / --target-shift are for a regressor's run; this run explains a "
            "classifier: give a class with --target"
        )
    labels = probs.argmax(1).repeat(repeat)
    return parse_targets(settings.target, labels, probs.shape[1], settings.seed)


def method_options(settings: ExplainSettings, trajectory: str, progress: bool) -> dict[str, Any]:
    """Constructor options of ``settings.method`` from the job's settings."""
    options: dict[str, Any] = {"batch_size": settings.batch_size, "progress": progress}
    if settings.tolerance is not None:
        options["tolerance"] = settings.tolerance
    if settings.method == "leapfactual":
        options |= {
            "blend": settings.blend,
            "inject": settings.inject,
            "solver": settings.solver,
            "trajectory": trajectory,
            "diversity": settings.diversity,
        }
    return options | dict(settings.options)


OUTPUT_FILES = ("explanation.safetensors", "explanation.json", "report.html", "shards")
"""What an explain job writes in its output directory: all ``force`` removes there, once
the run, the inputs and the settings are checked (a refused job removes nothing)."""


@contextmanager
def claim_output(out: Path, force: bool, resuming: bool = False) -> Iterator[Path]:
    """Hold ``out`` for this job: its lock (a second job gets an error naming this one's pid),
    and, unless ``resuming`` a sharded job or ``force``, refuse a directory that is not empty;
    with ``force``, refuse an ``out`` that is a link."""
    if force:
        refuse_link(out)
    check_free(out)  # a running job is named first, and nothing is touched when refusing
    _refuse_non_empty(out, resuming or force)
    with exclusive(out, "explain"):
        _refuse_non_empty(out, resuming or force)  # again: now no other job can write
        yield out


def _refuse_non_empty(out: Path, allowed: bool) -> None:
    if out.is_dir() and not allowed and any(p.name != LOCK_NAME for p in out.iterdir()):
        if (out / "explanation.safetensors").is_file() and (out / "explanation.json").is_file():
            raise ValueError(
                f"{out} already holds an explanation; write its page with `leapfactual report "
                f"{out}`, choose another --out, or add --force to make it again"
            )
        raise ValueError(
            f"{out} already exists and is not empty; choose another --out or add --force to "
            "overwrite it"
        )


__all__ = [
    "OUTPUT_FILES",
    "ExplainResult",
    "check_method",
    "claim_output",
    "explain_run",
    "job_targets",
    "method_options",
    "resolve_inputs",
]
