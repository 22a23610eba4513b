"""The one training loop every trainer in the project uses.

Epochs over in-memory tensors, shuffled by a seeded ``torch.Generator`` that is also handed to
the step function (noise, augmentation), Adam (AdamW when ``weight_decay > 0``) with a
multi-step learning-rate schedule, per-epoch mean losses, and optional checkpoints that resume
bit-identically: same seed, same data, same device give the same weights whether or not the run
was interrupted.

Distributed (under ``torchrun``, see :mod:`leapfactual.distributed`): every rank draws the same
shuffled order, each global minibatch is cut into ``chunks`` equal parts and rank ``r`` computes
parts ``r, r + W, ...``; the gradients, weighted by each part's share of the minibatch, are summed
over ranks in one all-reduce, so every rank takes the same optimizer step. Each part draws its
randomness from its own generator, seeded from (seed, epoch, minibatch, part), which makes a
run of ``W`` processes equal (to float rounding) to one process with ``chunks=W``; a step that
draws nothing at random gives the same weights for any ``chunks``. Only rank 0 writes
checkpoints; all ranks read them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from leapfactual.distributed.context import World, all_reduce_sum, barrier, broadcast_, world
from leapfactual.distributed.context import sum_gradients_ as _sum_gradients
from leapfactual.io import CheckpointError
from leapfactual.training.checkpoint import fingerprint, load_checkpoint, save_checkpoint

StepFn = Callable[[Sequence[Tensor], torch.Generator], Tensor]
"""``step(batch, generator) -> loss``: ``batch`` holds one minibatch slice of each data tensor
(on the model's device); the loss is a scalar mean over the batch. Any randomness must come
from ``generator`` (never the global RNG) for runs to be reproducible and resumable."""


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

    Returns:
        the sample-weighted mean loss of every epoch, from the first (also when resumed).
    """
    n = _check(data, epochs, batch_size, lr, checkpoint_every)
    ranks = world()
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
            **(settings or {}),
        }
        fp = fingerprint(model, tensors, run_settings)
        state = dict(optimizer=optimizer, scheduler=scheduler, generator=generator)
        resumed = load_checkpoint(checkpoint, model=model, fingerprint=fp, **state)
        if resumed is not None:
            if resumed.epoch > epochs:
                raise CheckpointError(
                    f"{checkpoint} already holds {resumed.epoch} epochs of training, more "
                    f"than the {epochs} asked for. Ask for epochs >= {resumed.epoch}, or use "
                    "another checkpoint directory."
                )
            start, history = resumed.epoch, resumed.history
    broadcast_([*model.parameters(), *model.buffers()])  # every rank starts from rank 0's state
    model.train()
    bar = tqdm(
        range(start, epochs),
        desc=desc,
        disable=not (progress and ranks.is_main),
        unit="epoch",
        initial=start,
        total=epochs,
    )
    for epoch in bar:
        order = torch.randperm(n, generator=generator).to(device)
        total, count = 0.0, 0.0
        for begin in range(0, n, batch_size):
            idx = order[begin : begin + batch_size]
            optimizer.zero_grad(set_to_none=True)
            if chunks == 1:  # the single-process path, unchanged
                loss = step([t[idx] for t in tensors], generator)
                loss.backward()
                total, count = total + loss.item() * idx.numel(), count + idx.numel()
            else:
                key = (seed, epoch, begin // batch_size)
                part_total, part_count = _chunked(step, tensors, idx, key, chunks, ranks)
                total, count = total + part_total, count + part_count
                _sum_gradients(params)
            optimizer.step()
        scheduler.step()
        total, count = all_reduce_sum([total, count]) if ranks.distributed else (total, count)
        history.append(total / count)
        bar.set_postfix(loss=f"{history[-1]:.4g}")
        done = epoch + 1
        if checkpoint is not None and (done % checkpoint_every == 0 or done == epochs):
            if ranks.is_main:
                save_checkpoint(
                    checkpoint, model=model, epoch=done, history=history, fingerprint=fp, **state
                )
            barrier()
    model.eval()
    return history


def _chunked(
    step: StepFn,
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
    loss is weighted by its share of the minibatch.
    """
    total, count = 0.0, 0.0
    for c, part in enumerate(torch.tensor_split(idx, chunks)):
        if c % ranks.size != ranks.rank or part.numel() == 0:
            continue
        digest = hashlib.sha256(repr((*key, c)).encode()).digest()
        part_gen = torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)
        loss = step([t[part] for t in tensors], part_gen)
        (loss * (part.numel() / idx.numel())).backward()
        total, count = total + loss.item() * part.numel(), count + part.numel()
    return total, count
