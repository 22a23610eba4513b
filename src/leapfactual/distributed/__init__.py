"""Multi-process training and generation on ``torch.distributed`` (launched with ``torchrun``).

- :mod:`~leapfactual.distributed.context`: the process group (``gloo`` on CPU, ``nccl`` on
  GPU), this rank's device, and the barrier and sum the training loop needs (its gradients
  go through ``DistributedDataParallel``).

Sharded explanation (above the explainers) lives in :mod:`leapfactual.pipeline.shards`.
"""

from leapfactual.distributed.context import (
    World,
    all_reduce_sum,
    barrier,
    default_device,
    finish,
    init,
    resolve_device,
    world,
)

__all__ = [
    "World",
    "all_reduce_sum",
    "barrier",
    "default_device",
    "finish",
    "init",
    "resolve_device",
    "world",
]
