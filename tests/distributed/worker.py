"""Run under ``torchrun --nproc-per-node 2``: data-parallel training and sharded explanation.

Writes into OUT (argv[1]) each rank's weights and histories, a record of every
DistributedDataParallel that ``fit`` built (what it wraps, whether each forward synchronised
gradients) and the explanation shards; the test that launches it compares them with one process.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import torch
import toys
from safetensors.torch import save_file

import leapfactual.training.loop as loop
from leapfactual.distributed import finish, init
from leapfactual.pipeline.shards import explain_sharded
from leapfactual.training import fit

BUILT: list[dict[str, Any]] = []


class RecordingDDP(loop.DistributedDataParallel):
    """The real DDP, noting what it wraps and, per forward, whether gradients are synchronised."""

    def __init__(self, module: torch.nn.Module, **kwargs: Any) -> None:
        super().__init__(module, **kwargs)
        inner = getattr(module, "model", None)
        self.record: dict[str, Any] = {
            "wraps": type(module).__name__,
            "model": type(inner).__name__,
            "synced": [],
        }
        BUILT.append(self.record)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        self.record["synced"].append(self.require_backward_grad_sync)
        return super().forward(*args, **kwargs)


def main(out: Path) -> None:
    ranks = init()
    loop.DistributedDataParallel = RecordingDDP  # type: ignore[misc]
    saving = loop.save_checkpoint

    def logged_save(*args, **kwargs):  # type: ignore[no-untyped-def]
        with open(out / f"saves-{ranks.rank}.txt", "a") as log:
            log.write(f"{kwargs['epoch']}\n")
        return saving(*args, **kwargs)

    loop.save_checkpoint = logged_save
    results = {}
    # straight 3 epochs; every rank starts from other random weights: rank 0's win
    model = toys.tiny(init_seed=ranks.rank)
    results["straight"], grad = toys.first_gradient(
        lambda: fit(
            model, toys.regression_data(), toys.noisy_step(model), epochs=3, **toys.SETTINGS
        )
    )
    weights = {f"straight.{k}": v for k, v in model.state_dict().items()}
    weights["first_gradient"] = grad
    # interrupted after 2 epochs, resumed to 3 (from other weights: the checkpoint's win)
    for epochs, init_seed in ((2, ranks.rank), (3, 99)):
        model = toys.tiny(init_seed=init_seed)
        results[f"resumed{epochs}"] = fit(
            model,
            toys.regression_data(),
            toys.noisy_step(model),
            epochs=epochs,
            checkpoint=out / "ckpt",
            **toys.SETTINGS,
        )
    weights.update({f"resumed.{k}": v for k, v in model.state_dict().items()})
    # two parts per rank (one under no_sync) and a last minibatch of one sample: rank 1 idle
    model = toys.tiny(init_seed=ranks.rank)
    data = toys.regression_data(toys.TAIL)
    results["chunks4"] = fit(
        model, data, toys.noisy_step(model), epochs=2, chunks=4, **toys.SETTINGS
    )
    weights.update({f"chunks4.{k}": v for k, v in model.state_dict().items()})
    (out / f"ddp-{ranks.rank}.json").write_text(json.dumps(BUILT))
    save_file({k: v.contiguous() for k, v in weights.items()}, str(out / f"w-{ranks.rank}.st"))
    (out / f"history-{ranks.rank}.json").write_text(json.dumps(results))
    x, targets = toys.toy_points()
    report = explain_sharded(toys.toy_explainer(), x, targets, out / "exp", shard_size=8)
    (out / f"shards-{ranks.rank}.json").write_text(json.dumps(report.computed))
    finish()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
