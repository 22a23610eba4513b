"""Training checkpoints: everything needed to resume a run exactly, without pickling.

A checkpoint directory holds one ``epoch-NNNNNN.safetensors`` + ``.json`` pair. The tensors are
the model weights (``model.*``), the optimizer's per-parameter state (``optimizer.*``) and the
shuffling generator's state (``rng``); the JSON keeps the optimizer's nested structure, the
scheduler state, the epoch, the loss history and a *fingerprint* of the configuration. A new
pair is written (atomically, file by file) before the older one is deleted, and a pair whose two
files disagree is skipped on load, so a run killed at any moment resumes from the last complete
epoch.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from leapfactual.io import CheckpointError, load_tensors, save_tensors

KIND = "training_checkpoint"
_STEM = re.compile(r"^epoch-(\d{6})$")
_HASH_ELEMENTS = 1 << 22  # tensors larger than this are hashed on an evenly strided sample


def _normalise(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists, keys strings)."""
    return json.loads(json.dumps(value, sort_keys=True))


def tensor_digest(t: Tensor) -> str:
    """SHA-256 of a tensor's bytes (of a strided sample of at most ~4M elements if larger)."""
    flat = t.detach().reshape(-1)
    if flat.numel() > _HASH_ELEMENTS:
        flat = flat[:: -(-flat.numel() // _HASH_ELEMENTS)]
    raw = flat.to("cpu").contiguous().view(torch.uint8).numpy().tobytes()
    return hashlib.sha256(raw).hexdigest()[:16]


def fingerprint(
    model: nn.Module, data: Sequence[Tensor], settings: Mapping[str, Any]
) -> dict[str, Any]:
    """What must be equal for a checkpoint to be resumed: model, data and settings."""
    return _normalise(
        {
            "model": {
                "type": type(model).__name__,
                "config": getattr(model, "config", None),
                "shapes": {k: list(v.shape) for k, v in model.state_dict().items()},
            },
            "data": [
                {"shape": list(t.shape), "dtype": str(t.dtype), "sha256": tensor_digest(t)}
                for t in data
            ],
            "settings": dict(settings),
        }
    )


def _differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new)):
            out += _differences(old.get(key), new.get(key), f"{prefix}{key}.")
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        pairs = enumerate(zip(old, new, strict=True))
        return [d for i, (a, b) in pairs for d in _differences(a, b, f"{prefix}{i}.")]
    if old != new:
        shown = [json.dumps(v) for v in (old, new)]
        shown = [s if len(s) <= 60 else s[:57] + "..." for s in shown]
        return [f"{prefix.rstrip('.')}: {shown[0]} (checkpoint) vs {shown[1]} (now)"]
    return []


def _flatten_optimizer(state: dict[str, Any]) -> tuple[dict[str, Tensor], dict[str, Any]]:
    tensors: dict[str, Tensor] = {}
    per_param: dict[str, dict[str, Any]] = {}
    for pid, pstate in state["state"].items():
        entry: dict[str, Any] = {}
        for key, value in pstate.items():
            if isinstance(value, Tensor):
                name = f"optimizer.{pid}.{key}"
                tensors[name] = value
                entry[key] = {"tensor": name}
            else:
                entry[key] = {"value": value}
        per_param[str(pid)] = entry
    return tensors, {"state": per_param, "param_groups": state["param_groups"]}


def _unflatten_optimizer(
    tensors: Mapping[str, Tensor], structure: dict[str, Any], optimizer: torch.optim.Optimizer
) -> dict[str, Any]:
    state = {
        int(pid): {
            key: tensors[ref["tensor"]] if "tensor" in ref else ref["value"]
            for key, ref in entry.items()
        }
        for pid, entry in structure["state"].items()
    }
    groups = []
    for saved, current in zip(structure["param_groups"], optimizer.param_groups, strict=True):
        groups.append(
            {k: tuple(v) if isinstance(current.get(k), tuple) else v for k, v in saved.items()}
        )
    return {"state": state, "param_groups": groups}


def _scheduler_to_json(state: dict[str, Any]) -> dict[str, Any]:
    return {
        k: {"counter": sorted(v.items())} if isinstance(v, Counter) else v for k, v in state.items()
    }


def _scheduler_from_json(state: dict[str, Any]) -> dict[str, Any]:
    return {
        k: Counter(dict(v["counter"])) if isinstance(v, dict) and "counter" in v else v
        for k, v in state.items()
    }


@dataclass
class Resumed:
    """Where a restored run stands."""

    epoch: int
    history: list[float]
    path: Path


def _stems(directory: Path) -> list[tuple[int, Path]]:
    found = {
        (int(m.group(1)), directory / p.stem)
        for p in directory.glob("epoch-*.*")
        if (m := _STEM.match(p.stem)) and p.suffix in {".json", ".safetensors"}
    }
    return sorted(found, reverse=True)


def save_checkpoint(
    directory: str | os.PathLike[str],
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    generator: torch.Generator,
    epoch: int,
    history: Sequence[float],
    fingerprint: Mapping[str, Any],
) -> Path:
    """Write the state after ``epoch`` epochs into ``directory``; remove older epochs' files."""
    folder = Path(directory)
    opt_tensors, opt_structure = _flatten_optimizer(optimizer.state_dict())
    tensors = {
        **{f"model.{k}": v for k, v in model.state_dict().items()},
        **opt_tensors,
        "rng": generator.get_state(),
        "epoch": torch.tensor(epoch, dtype=torch.int64),
    }
    meta = {
        "kind": KIND,
        "epoch": epoch,
        "history": list(history),
        "fingerprint": dict(fingerprint),
        "optimizer": opt_structure,
        "scheduler": _scheduler_to_json(scheduler.state_dict()),
    }
    path = save_tensors(folder / f"epoch-{epoch:06d}", tensors, meta)
    for old_epoch, stem in _stems(folder):
        if old_epoch != epoch:
            for suffix in (".safetensors", ".json"):
                stem.with_suffix(suffix).unlink(missing_ok=True)
    return path


def load_checkpoint(
    directory: str | os.PathLike[str],
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    generator: torch.Generator,
    fingerprint: Mapping[str, Any],
) -> Resumed | None:
    """Restore the newest complete checkpoint in ``directory`` into the given objects.

    Returns ``None`` when the directory holds no checkpoint. Raises :class:`CheckpointError`
    when the checkpoint was made with another configuration, or none of its files is complete.
    """
    folder = Path(directory)
    if folder.exists() and not folder.is_dir():
        raise CheckpointError(f"{folder} is a file; a training checkpoint is a directory")
    candidates = _stems(folder) if folder.is_dir() else []
    if not candidates:
        return None
    device = next(iter(model.state_dict().values()), torch.empty(0)).device
    errors: list[str] = []
    for epoch, stem in candidates:
        try:
            tensors, meta = load_tensors(stem, device)
        except CheckpointError as err:
            errors.append(str(err))
            continue
        stored = tensors.get("epoch")
        if (
            meta.get("kind") != KIND
            or "rng" not in tensors
            or stored is None
            or not (int(stored) == meta.get("epoch") == epoch)
        ):
            errors.append(f"{stem}: not a consistent training checkpoint")
            continue
        break
    else:
        raise CheckpointError(
            f"{folder} holds no complete training checkpoint ({'; '.join(errors)}). "
            "Delete the directory to start training from scratch."
        )
    diffs = _differences(meta["fingerprint"], _normalise(dict(fingerprint)))
    diffs.sort(key=lambda d: (d.startswith("model.shapes"), ".sha256" in d))  # causes first
    if diffs:
        raise CheckpointError(
            f"{folder} was written by a run with a different configuration ("
            + "; ".join(diffs[:5])
            + (f"; and {len(diffs) - 5} more" if len(diffs) > 5 else "")
            + "). Resuming it would mix two runs: use another checkpoint directory, or delete "
            f"{folder} to start over."
        )
    model.load_state_dict(
        {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}
    )
    optimizer.load_state_dict(_unflatten_optimizer(tensors, meta["optimizer"], optimizer))
    scheduler.load_state_dict(_scheduler_from_json(meta["scheduler"]))
    generator.set_state(tensors["rng"].to("cpu"))
    return Resumed(epoch=epoch, history=[float(v) for v in meta["history"]], path=stem)
