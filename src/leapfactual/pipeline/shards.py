"""Explanations of a whole dataset split, streamed to disk in shards, across ranks.

The rows to explain (input index + target class) are cut into fixed shards of ``shard_size``
rows. Shards are shared out round-robin among the ranks that ``torchrun`` started (one rank
without it); each rank explains its shards one at a time and writes each to
``OUT/shards/shard-NNNNNN.safetensors`` + ``.json`` as soon as it is done, so memory holds one
shard, whatever the number of images (and after each shard the allocator's free pages go back
to the system, see :func:`release_memory`). ``OUT/shards/job.json`` records what is being
made; a restart with the same job skips every finished shard (a crash loses at most the shards
in progress), and a different job in the same directory is refused. :func:`merge_shards` joins
the shards into one saved explanation, one shard's tensor at a time, and opens it to be read on
demand (:class:`~leapfactual.explain.stored.StoredExplanation`).
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import platform
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from leapfactual._progress import tqdm
from leapfactual.distributed import barrier, init
from leapfactual.explain import Cost, Explainer, StoredExplanation, open_explanation, stored_meta
from leapfactual.io import (
    CheckpointError,
    TensorFile,
    parse_json,
    save_tensors,
    subdirectory,
    write_json,
    write_tensors,
)
from leapfactual.training import tensor_digest

ImageFn = Callable[[Tensor], Tensor]
"""``images(indices) -> [len(indices), C, H, W]`` float images: lets inputs stay on disk or be
generated, so only one shard's images are ever in memory."""

JOB_KIND = "sharded_explanation"
SHARD_KIND = "explanation_shard"


@dataclass
class ShardReport:
    """What one rank did: the shards it computed and those it found finished."""

    directory: Path
    total: int
    computed: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)


def _as_fn(images: Tensor | ImageFn) -> ImageFn:
    if isinstance(images, Tensor):
        return lambda idx: images[idx.to(images.device)]
    if not callable(images):
        raise ValueError("images must be a tensor [N, ...] or a function indices -> images")
    return images


def _shard_path(folder: Path, i: int) -> Path:
    return folder / f"shard-{i:06d}"


def _normalise(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _is_done(folder: Path, i: int, job_id: str) -> bool:
    """Whether shard ``i`` of this job is on disk and intact (its tensor file has the SHA-256
    its sidecar recorded); a damaged or incomplete shard is not done, so it is made again."""
    return _open_done(folder, i, job_id) is not None


def _open_done(folder: Path, i: int, job_id: str) -> TensorFile | None:
    """Shard ``i`` of this job, checked and opened, if it is finished and intact."""
    try:
        shard = TensorFile(_shard_path(folder, i))
    except CheckpointError:
        return None
    meta = shard.meta
    done = meta.get("kind") == SHARD_KIND and meta.get("job_id") == job_id
    return shard if done and meta.get("shard") == i else None


def _prepare(folder: Path, job: dict[str, Any], overwrite: bool, is_main: bool) -> None:
    """Check (every rank) and write (rank 0) the job file; refuse another job's shards."""
    subdirectory(folder.parent, folder.name)  # refuses a link planted at OUT/shards
    if overwrite:
        if is_main:
            shutil.rmtree(folder)
        barrier()
    path = folder / "job.json"
    if path.is_file():
        old = parse_json(path.read_bytes(), path)
        if old != job:
            diff = sorted(k for k in set(old) | set(job) if old.get(k) != job.get(k))
            raise ValueError(
                f"{folder} holds shards of another explain job ({', '.join(diff)} differ); "
                "use another output directory, or --force (overwrite=True) to discard them"
            )
    elif is_main:
        folder.mkdir(parents=True, exist_ok=True)
        write_json(path, job, indent=2, sort_keys=True)
    barrier()


def explain_sharded(
    explainer: Explainer,
    images: Tensor | ImageFn,
    targets: Tensor,
    out: str | os.PathLike[str],
    *,
    rows: Tensor | None = None,
    shard_size: int = 1024,
    job: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> ShardReport:
    """Explain ``images[rows[j]]`` toward ``targets[j]`` for every row ``j``, shard by shard.

    Args:
        explainer: any explainer (it batches each shard internally with its ``batch_size``).
        images: the inputs as a tensor, or a function ``indices -> images`` (see
            :data:`ImageFn`) so that they need not be in memory.
        targets: one target class per row ``[R]`` (a regressor: one value).
        out: directory; shards go to ``out/shards``.
        rows: input index of each row (default ``0..R-1``; ``all-others`` repeats inputs).
        shard_size: rows per shard: the unit of memory, of work per rank and of restart.
        job: JSON-serialisable description of the inputs (e.g. the run and split) that joins
            the job identity, so that shards of other inputs are never reused.
        overwrite: discard the shards already in ``out/shards``.
        progress: a progress bar over this rank's shards.

    Returns:
        the shards this rank computed and those it skipped as finished. Under ``torchrun``
        every rank calls this with the same arguments.
    """
    if shard_size < 1:
        raise ValueError(f"shard_size must be positive, got {shard_size}")
    targets = targets.reshape(-1).cpu()
    targets = targets if targets.is_floating_point() else targets.long()  # a regressor's values
    rows = torch.arange(len(targets)) if rows is None else rows.reshape(-1).long().cpu()
    if len(rows) != len(targets) or len(rows) == 0:
        raise ValueError(
            f"need one target per row and at least one row; got {len(rows)} rows and "
            f"{len(targets)} targets"
        )
    fetch = _as_fn(images)
    ranks = init()
    folder = Path(out) / "shards"
    total = -(-len(rows) // shard_size)
    spec = _normalise(
        {
            "kind": JOB_KIND,
            "rows": len(rows),
            "shard_size": shard_size,
            "shards": total,
            "explainer": explainer.config(),
            "rows_sha256": tensor_digest(rows),
            "targets_sha256": tensor_digest(targets),
            "inputs": dict(job or {}),
        }
    )
    job_id = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    spec["job_id"] = job_id
    _prepare(folder, spec, overwrite, ranks.is_main)
    pending = [i for i in range(total) if not _is_done(folder, i, job_id)]
    barrier()  # every rank has listed the same pending shards before any is written
    report = ShardReport(folder, total, skipped=[i for i in range(total) if i not in pending])
    mine = pending[ranks.rank :: ranks.size]
    for i in tqdm(mine, desc=f"shards (rank {ranks.rank})", disable=not progress, unit="shard"):
        lo, hi = i * shard_size, min((i + 1) * shard_size, len(rows))
        _write_shard(explainer, fetch, rows[lo:hi], targets[lo:hi], folder, i, job_id, lo)
        release_memory()
        report.computed.append(i)
    barrier()
    return report


def _write_shard(
    explainer: Explainer,
    fetch: ImageFn,
    rows: Tensor,
    targets: Tensor,
    folder: Path,
    i: int,
    job_id: str,
    lo: int,
) -> None:
    """Explain and write shard ``i`` (rows ``lo ..``); nothing of it outlives the call."""
    exp = explainer.explain(fetch(rows), targets)
    meta = {
        "kind": SHARD_KIND,
        "job_id": job_id,
        "shard": i,
        "rows": [lo, lo + len(rows)],
        "method": exp.method,
        "cost": asdict(exp.cost),
        "config": exp.config,
    }
    save_tensors(_shard_path(folder, i), {**exp.tensors(), "row": rows}, meta)


def release_memory() -> bool:
    """Hand the C allocator's free pages back to the system (glibc only); whether it could.

    glibc keeps the freed blocks of a shard's large temporaries in its heaps, resident, and
    gives them back only from the top of a heap; ``malloc_trim(0)`` (through ``ctypes``)
    releases every free page. A no-op with another C library.
    """
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    trim(0)
    return True


def shard_progress(out: str | os.PathLike[str]) -> tuple[int, int]:
    """``(finished, total)`` shards of the job in ``out/shards``."""
    folder = Path(out) / "shards"
    job = _read_job(folder)
    done = sum(_is_done(folder, i, job["job_id"]) for i in range(job["shards"]))
    return done, int(job["shards"])


def _read_job(folder: Path) -> dict[str, Any]:
    path = folder / "job.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{folder} holds no sharded explanation (no job.json); make one with "
            "`leapfactual explain RUN --out DIR --shard-size N`"
        )
    job = parse_json(path.read_bytes(), path)
    if not (isinstance(job, dict) and isinstance(job.get("shards"), int) and "job_id" in job):
        raise CheckpointError(f"{path} is not a sharded explain job; delete {folder}")
    return job


def merge_shards(out: str | os.PathLike[str], *, keep_shards: bool = True) -> StoredExplanation:
    """Join the finished shards in ``out/shards`` into ``out/explanation.*``, in row order, and
    open it (:func:`~leapfactual.explain.stored.open_explanation`: read on demand).

    The file is written tensor by tensor, each from one shard at a time (see
    :func:`~leapfactual.io.write_tensors`), so memory does not grow with the number of CEs;
    every shard is checked (SHA-256) before. ``keep_shards=False`` deletes the shards once
    the merged file is written. Raises a ``ValueError`` naming the missing shards if the job
    is not finished.
    """
    folder = Path(out) / "shards"
    job = _read_job(folder)
    opened = [_open_done(folder, i, job["job_id"]) for i in range(job["shards"])]
    done = [shard for shard in opened if shard is not None]
    if len(done) < len(opened):
        missing = [i for i, shard in enumerate(opened) if shard is None]
        raise ValueError(
            f"{len(missing)} of {job['shards']} shards in {folder} are not finished (first: "
            f"{missing[:5]}); run the same explain command again to make them, then merge"
        )
    cost = Cost()
    for shard in done:
        cost.add(Cost(**shard.meta["cost"]))
    last = done[-1].meta
    config = {
        **last["config"],
        "shards": job["shards"],
        "shard_size": job["shard_size"],
        "job": job.get("inputs", {}),
    }
    meta = stored_meta(last["method"], cost, config.get("tolerance"), config)
    layout = _merged_layout(done)
    write_tensors(
        Path(out) / "explanation", layout, lambda k: (shard.read(k) for shard in done), meta
    )
    if not keep_shards:
        shutil.rmtree(folder)
    return open_explanation(out)


def _merged_layout(shards: list[TensorFile]) -> dict[str, tuple[torch.dtype, tuple[int, ...]]]:
    """Dtype and shape of each merged tensor (the shards' rows stacked; not ``row``); shards
    whose tensors differ in name, dtype or row shape are refused naming the first."""
    first = shards[0].layout
    for shard in shards[1:]:
        same = shard.layout.keys() == first.keys() and all(
            dtype == first[k][0] and shape[1:] == first[k][1][1:]
            for k, (dtype, shape) in shard.layout.items()
        )
        if not same:
            raise CheckpointError(
                f"{shard.path} holds other tensors than {shards[0].path} (names, dtypes or "
                "row shapes differ), so they are not shards of one job; make the job again "
                "with --force"
            )
    return {
        k: (dtype, (sum(s.layout[k][1][0] for s in shards), *shape[1:]))
        for k, (dtype, shape) in first.items()
        if k != "row"
    }
