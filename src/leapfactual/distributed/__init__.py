"""Multi-process training and generation on ``torch.distributed`` (launched with ``torchrun``).

- :mod:`~leapfactual.distributed.context`: the process group (``gloo`` on CPU, ``nccl`` on
  GPU), this rank's device, and the few collectives the training loop needs.
- :mod:`~leapfactual.distributed.shards`: explanations of a whole split cut into fixed shards,
  each written to disk by the rank that made it, skipped when a restart finds it finished, and
  merged into one :class:`~leapfactual.explain.Explanation`.
"""

from leapfactual.distributed.context import (
    World,
    all_reduce_sum,
    barrier,
    broadcast_,
    default_device,
    finish,
    init,
    sum_gradients_,
    world,
)

__all__ = [
    "World",
    "all_reduce_sum",
    "barrier",
    "broadcast_",
    "default_device",
    "finish",
    "init",
    "sum_gradients_",
    "world",
]
