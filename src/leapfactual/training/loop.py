"""The one training loop every trainer in the project uses.

Epochs over in-memory tensors, shuffled by a seeded ``torch.Generator`` that is also handed to
the step function (noise, augmentation), Adam (AdamW when ``weight_decay > 0``) with a
multi-step learning-rate schedule, per-epoch mean losses, and optional checkpoints that resume
bit-identically: same seed, same data, same device give the same weights whether or not the run
was interrupted.

Distributed (under ``torchrun``, see :mod:`leapfactual.distributed`): the step runs as the
``forward`` of a small module that holds the model, wrapped in
:class:`~torch.nn.parallel.DistributedDataParallel` (whose constructor gives every rank rank
0's weights). Every rank draws the same shuffled order, each global minibatch is cut into
``chunks`` equal parts and rank ``r`` computes parts ``r, r + W, ...``, all but its last under
``no_sync``; each part's loss is weighted by its share of the minibatch and multiplied by ``W``,
so DDP's averaging all-reduce sums the gradients and every rank takes the same optimizer step.
Each part draws its randomness from its own generator, seeded from (seed, epoch, minibatch,
part), which makes a run of ``W`` processes equal (to float rounding) to one process with
``chunks=W``; a step that draws nothing at random gives the same weights for any ``chunks``.
Only rank 0 writes checkpoints; all ranks read them.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from leapfactual._progress import tqdm
from leapfactual.distributed import World, all_reduce_sum, barrier, init
from leapfactual.io import CheckpointError
from leapfactual.training.callbacks import (
    Callback,
    TrainEpoch,
    TrainStep,
    active_callbacks,
    stage_name,
)
from leapfactual.training.checkpoint import fingerprint, load_checkpoint, save_checkpoint

logger = logging.getLogger(__name__)

StepFn = Callable[[Sequence[Tensor], torch.Generator], Tensor]
"""``step(batch, generator) -> loss``: ``batch`` holds one minibatch slice of each data tensor
(on the model's device); the loss is a scalar mean over the batch. Any randomness must come
from ``generator`` (never the global RNG) for runs to be reproducible and resumable."""


class StepModule(nn.Module):
    """``step`` as the ``forward`` of a module that holds ``model`` (so that DDP can wrap it).

    An empty batch (a rank's share of a minibatch smaller than the number of parts) gives a
    loss of exactly zero that still reaches every trainable parameter, so that the rank joins
    DDP's gradient all-reduce without the step ever seeing an empty batch.
    """

    def __init__(self, model: nn.Module, step: StepFn) -> None:
        super().__init__()
        self.model = model
        self.step = step

    def forward(self, batch: Sequence[Tensor], generator: torch.Generator) -> Tensor:
        if len(batch[0]) == 0:
            trainable = (p.sum() for p in self.parameters() if p.requires_grad)
            return sum(trainable, torch.zeros(())) * 0.0
        return self.step(batch, generator)


def _check(data: Sequence[Tensor], epochs: int, batch_size: int, lr: float, every: int) -> int:
    if epochs < 1 or batch_size < 1 or every < 1:
        raise ValueError(
            f"epochs ({epochs}), batch_size ({batch_size}) and checkpoint_every ({every}) "
            "must be positive integers"
        )
    if not lr > 0:
        raise ValueError(f"learning rate must be positive; got {lr}")
    if len(data) == 0 or any(not isinstance(t, Tensor) or t.dim() == 0 for t in data):
        raise ValueError("data must be a non-empty sequence of tensors with a batch dimension")
    sizes = {int(t.shape[0]) for t in data}
    if len(sizes) != 1 or 0 in sizes:
        raise ValueError(
            f"all data tensors must hold the same, non-zero number of samples; got sizes "
            f"{[int(t.shape[0]) for t in data]}"
        )
    return sizes.pop()


def fit(
    model: nn.Module,
    data: Sequence[Tensor],
    step: StepFn,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float = 0.0,
    lr_milestones: Sequence[int] = (),
    lr_decay: float = 0.1,
    seed: int = 0,
    progress: bool = False,
    desc: str = "train",
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: int = 1,
    settings: Mapping[str, Any] | None = None,
    chunks: int | None = None,
    device: str | torch.device | None = None,
    max_grad_norm: float | None = None,
    after_epoch: Callable[[int], None] | None = None,
    callbacks: Sequence[Callback] = (),
    stop: Callable[[int], bool] | None = None,
) -> list[float]:
    """Train ``model`` by minimising ``step`` over minibatches of ``data``; return epoch losses.

    Args:
        model: the module whose trainable parameters are optimised (it sets the device).
        data: tensors with the same first dimension, moved to the model's device.
        step: computes a minibatch's loss, see :data:`StepFn`.
        epochs: total number of epochs (a resumed run continues up to this number).
        batch_size: minibatch size (the last minibatch of an epoch may be smaller).
        lr, weight_decay: Adam, or AdamW when ``weight_decay > 0``.
        lr_milestones, lr_decay: the learning rate is multiplied by ``lr_decay`` after each
            epoch number in ``lr_milestones``.
        seed: seeds the generator used for shuffling and handed to ``step``.
        progress: show a tqdm bar labelled ``desc``.
        checkpoint: a directory. If it holds a checkpoint of this configuration, training
            resumes from it; a checkpoint of another configuration is refused. The state is
            written after every ``checkpoint_every`` epochs and after the last one.
        settings: JSON-serialisable values the step depends on (loss options, augmentation);
            they join the checkpoint fingerprint so that a change is detected.
        chunks: parts each minibatch is cut into, each with its own seeded generator
            (gradient accumulation); default: the number of processes (1 without torchrun).
            Must be a multiple of the number of processes.
        device: move the model there first (default: where the model is).
        max_grad_norm: clip the gradient's global norm to this before every step (None:
            no clipping); after DDP's all-reduce, so every rank clips the same gradient.
        after_epoch: called with the number of epochs done after each epoch, before that
            epoch's checkpoint is written (an exception it raises stops training and the
            epoch is not saved, so a resumed run meets it again); it must leave the model
            as it found it.
        callbacks: told of every optimiser step and epoch (:class:`TrainStep`,
            :class:`TrainEpoch`; ``stage``: the one the block around names, else ``desc``),
            after those attached around the call (:func:`~leapfactual.training.attached`);
            rank 0 only.
        stop: called with the number of epochs done after ``after_epoch``; True ends training
            after that epoch, whose checkpoint is written (early stopping: see
            :class:`~leapfactual.training.Plateau`); it must leave the model as it found it.

    Under ``torchrun`` (the process group is joined if need be) every trainable parameter must
    get a gradient from every step, as DDP requires (true of all the project's models); freeze
    the others with ``requires_grad_(False)``.

    Returns:
        the sample-weighted mean loss of every epoch, from the first (also when resumed).
    """
    n = _check(data, epochs, batch_size, lr, checkpoint_every)
    listeners = active_callbacks(callbacks)
    if max_grad_norm is not None and not (math.isfinite(max_grad_norm) and max_grad_norm > 0):
        raise ValueError(f"max_grad_norm must be a finite number > 0 or None; got {max_grad_norm}")
    ranks = init()
    chunks = ranks.size if chunks is None else chunks
    if chunks < 1 or chunks % ranks.size:
        raise ValueError(
            f"chunks ({chunks}) must be a positive multiple of the number of processes "
            f"({ranks.size}); leave it unset to use one chunk per process"
        )
    if device is not None:
        model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"{type(model).__name__} has no trainable parameters")
    device = params[0].device
    tensors = [t.to(device) for t in data]
    generator = torch.Generator().manual_seed(seed)
    opt_cls = torch.optim.AdamW if weight_decay > 0 else torch.optim.Adam
    optimizer = opt_cls(params, lr=lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, list(lr_milestones), lr_decay)
    history: list[float] = []
    start = 0
    if checkpoint is not None:
        run_settings = {
            "optimizer": opt_cls.__name__,
            "lr": lr,
            "weight_decay": weight_decay,
            "lr_milestones": list(lr_milestones),
            "lr_decay": lr_decay,
            "batch_size": batch_size,
            "seed": seed,
            **({"chunks": chunks} if chunks > 1 else {}),
            **({"max_grad_norm": max_grad_norm} if max_grad_norm is not None else {}),
            **(settings or {}),
        }
        fp = fingerprint(model, tensors, run_settings)
        resumed = load_checkpoint(
            checkpoint,
            model=model,
            fingerprint=fp,
            optimizer=optimizer,
            scheduler=scheduler,
            generator=generator,
        )
        if resumed is not None:
            if resumed.epoch > epochs:
                raise CheckpointError(
                    f"{checkpoint} already holds {resumed.epoch} epochs of training, more "
                    f"than the {epochs} asked for. Ask for epochs >= {resumed.epoch}, or use "
                    "another checkpoint directory."
                )
            start, history = resumed.epoch, resumed.history
    runner: nn.Module = StepModule(model, step)
    if ranks.distributed:  # DDP's constructor broadcasts rank 0's parameters and buffers
        ids = [device.index] if device.type == "cuda" else None
        # every step reaches every parameter (tested for the project's models): no graph search
        runner = DistributedDataParallel(runner, device_ids=ids, find_unused_parameters=False)
    model.train()
    bar = tqdm(
        range(start, epochs),
        desc=desc,
        disable=not (progress and ranks.is_main),
        unit="epoch",
        initial=start,
        total=epochs,
    )
    per_epoch = math.ceil(n / batch_size)
    report = listeners if ranks.is_main else ()
    stage = stage_name(desc)
    for epoch in bar:
        order = torch.randperm(n, generator=generator).to(device)
        total, count = 0.0, 0.0
        for begin in range(0, n, batch_size):
            idx = order[begin : begin + batch_size]
            optimizer.zero_grad(set_to_none=True)
            if chunks == 1:  # the single-process path, unchanged
                loss = step([t[idx] for t in tensors], generator)
                loss.backward()
                last = loss.item()
                total, count = total + last * idx.numel(), count + idx.numel()
            else:
                key = (seed, epoch, begin // batch_size)
                part_total, part_count = _chunked(runner, tensors, idx, key, chunks, ranks)
                total, count = total + part_total, count + part_count
                last = part_total / max(part_count, 1.0)
            if max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
            optimizer.step()
            if report:
                lr_now = float(optimizer.param_groups[0]["lr"])
                done_steps = epoch * per_epoch + begin // batch_size + 1
                for callback in report:
                    callback.on_train_batch(TrainStep(stage, epoch + 1, done_steps, last, lr_now))
        lr_now = float(optimizer.param_groups[0]["lr"])
        scheduler.step()
        total, count = all_reduce_sum([total, count]) if ranks.distributed else (total, count)
        history.append(total / count)
        bar.set_postfix(loss=f"{history[-1]:.4g}")
        done = epoch + 1
        logger.debug("%s: epoch %d of %d, loss %.6g", stage, done, epochs, history[-1])
        for callback in report:
            event = TrainEpoch(stage, done, epochs, done * per_epoch, history[-1], lr_now)
            callback.on_train_epoch(event)
        if after_epoch is not None:
            after_epoch(done)
        halt = stop is not None and stop(done)
        if checkpoint is not None and (done % checkpoint_every == 0 or done == epochs or halt):
            if ranks.is_main:
                save_checkpoint(
                    checkpoint,
                    model=model,
                    epoch=done,
                    history=history,
                    fingerprint=fp,
                    optimizer=optimizer,
                    scheduler=scheduler,
                    generator=generator,
                )
            barrier()
        if halt:
            break
    model.eval()
    return history


def _chunked(
    runner: nn.Module,
    tensors: Sequence[Tensor],
    idx: Tensor,
    key: tuple[int, int, int],
    chunks: int,
    ranks: World,
) -> tuple[float, float]:
    """Accumulate this rank's share of one minibatch's gradient; return its loss sum and count.

    Part ``c`` of the minibatch gets a generator seeded from ``(seed, epoch, batch, c)`` (the
    ``key`` and ``c``), so its randomness does not depend on which rank, or how many, compute it,
    and the shared generator (the shuffles) advances exactly as without chunks. Each part's mean
    loss is weighted by its share of the minibatch, times the number of ranks under DDP (which
    averages). A rank computes its non-empty parts, the last one synchronised; one with none
    passes an empty part (zero loss), since every rank must join each all-reduce.
    """
    ddp = runner if isinstance(runner, DistributedDataParallel) else None
    scale = ranks.size if ddp is not None else 1
    parts = torch.tensor_split(idx, chunks)
    mine = [c for c in range(ranks.rank, chunks, ranks.size) if parts[c].numel() > 0]
    mine = mine or [ranks.rank]
    total, count = 0.0, 0.0
    for c in mine:
        part = parts[c]
        digest = hashlib.sha256(repr((*key, c)).encode()).digest()
        part_gen = torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)
        sync: AbstractContextManager[Any] = (
            ddp.no_sync() if ddp is not None and c != mine[-1] else nullcontext()
        )
        with sync, warnings.catch_warnings():
            # DDP compares gradient strides strictly, also along dimensions of size 1 (the
            # weight of a convolution over one channel): harmless, and not the user's to fix
            warnings.filterwarnings("ignore", "Grad strides do not match bucket view strides")
            loss = runner([t[part] for t in tensors], part_gen)
            (loss * (part.numel() / idx.numel() * scale)).backward()
        total, count = total + loss.item() * part.numel(), count + part.numel()
    return total, count
