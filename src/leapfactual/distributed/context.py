"""The process group: who am I, how many are we, which device is mine.

Launched by ``torchrun``, every process finds ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and the
rendezvous address in its environment; :func:`init` joins the group (``nccl`` when the process
has a GPU, ``gloo`` otherwise). Without those variables everything here describes a world of one
process, so the same code runs with and without ``torchrun``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    """This process's place in the group: ``rank`` of ``size``, ``local_rank`` on its node."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the only process that writes run files and checkpoints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not an integer") from None


def world() -> World:
    """The initialised group, or the torchrun variables, or a world of one process."""
    if dist.is_available() and dist.is_initialized():
        local = _env_int("LOCAL_RANK", dist.get_rank())
        return World(dist.get_rank(), dist.get_world_size(), local)
    size = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    if not 0 <= rank < max(size, 1):
        raise ValueError(f"RANK={rank} is outside WORLD_SIZE={size}; launch with torchrun")
    return World(rank, max(size, 1), _env_int("LOCAL_RANK", rank))


def default_device(w: World | None = None) -> torch.device:
    """``cuda:LOCAL_RANK`` when GPUs are present, else the CPU."""
    w = w or world()
    if torch.cuda.is_available():
        return torch.device("cuda", w.local_rank % torch.cuda.device_count())
    return torch.device("cpu")


def resolve_device(
    device: str | torch.device | None = None, w: World | None = None
) -> torch.device:
    """``device`` when given, else :func:`default_device` (this rank's GPU, or the CPU).

    A name torch does not know, or a device this machine lacks (``cuda`` on a CPU-only build,
    ``cuda:3`` with two GPUs), raises a ``ValueError`` naming it, before any work."""
    if device is None:
        return default_device(w)
    try:
        target = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(
            f"unknown device {device!r}; give cpu, cuda, cuda:N (a GPU index) or mps"
        ) from None
    backend = getattr(torch, target.type, None) if target.type != "cpu" else None
    if target.type != "cpu" and not (backend and backend.is_available()):
        raise ValueError(
            f"device {device!r} is not available here (this PyTorch build or machine has no "
            f"{target.type} device); use --device cpu, or leave --device out"
        )
    if target.type == "cuda" and target.index is not None:
        count = torch.cuda.device_count()
        if target.index >= count:
            raise ValueError(
                f"device {device!r} does not exist: {count} GPU(s) visible (cuda:0 to "
                f"cuda:{count - 1})"
            )
    return target


def init(backend: str | None = None) -> World:
    """Join the process group that ``torchrun`` describes in the environment (idempotent).

    ``backend`` defaults to ``nccl`` with GPUs and ``gloo`` without. A single process (no
    ``WORLD_SIZE`` or ``WORLD_SIZE=1``) joins nothing.
    """
    w = world()
    if not w.distributed or dist.is_initialized():
        return w
    if not dist.is_available():
        raise RuntimeError("this PyTorch build has no torch.distributed; install a full build")
    missing = [v for v in ("MASTER_ADDR", "MASTER_PORT") if v not in os.environ]
    if missing:
        raise ValueError(
            f"WORLD_SIZE={w.size} but {', '.join(missing)} is not set: launch with "
            "`torchrun --nproc-per-node N -m leapfactual ...` (it sets the rendezvous)"
        )
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(default_device(w))
    dist.init_process_group(backend)
    return world()


def barrier() -> None:
    """Wait for every rank (nothing to wait for in a world of one)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def all_reduce_sum(values: Sequence[float], device: torch.device | None = None) -> list[float]:
    """The sums of ``values`` over all ranks (float64; the values themselves in a world of one)."""
    if not (dist.is_available() and dist.is_initialized()):
        return [float(v) for v in values]
    t = torch.tensor(list(values), dtype=torch.float64, device=device or _comm_device())
    dist.all_reduce(t)
    return t.tolist()


def _comm_device() -> torch.device:
    return default_device() if dist.get_backend() == "nccl" else torch.device("cpu")


def finish() -> None:
    """Leave the process group, if this process joined one (call once at the end)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
