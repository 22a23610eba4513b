"""Training and explaining with callbacks: a recorder of your own and TensorBoard
(docs/tutorials/logging-and-tracking.md).

    python examples/tracking.py --out work/tracking      # a few minutes on a 2-core CPU
    python examples/tracking.py --out work/tracking --quick
    tensorboard --logdir work/tracking/tensorboard      # the curves
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import leapfactual as lf
from leapfactual.pipeline import override
from leapfactual.testing import QUICK  # tiny settings: the code path in seconds
from leapfactual.training import Callback, ExplainBatch, TensorBoardLogger, TrainEpoch


def fit_and_explain(out: Path, quick: bool = False) -> dict[str, list[float]]:
    """Fit a run and explain 64 held-out digits, reporting to a recorder and TensorBoard."""
    config = lf.FitSettings(data="mnist5k")
    if quick:
        config = override(config, QUICK)
    logging.basicConfig(format="%(name)s: %(message)s")
    logging.getLogger("leapfactual").setLevel(logging.DEBUG)  # also every epoch's loss

    class Recorder(Callback):  # subclassing Callback: the other methods do nothing
        def __init__(self) -> None:
            self.losses: dict[str, list[float]] = {}

        def on_train_epoch(self, event: TrainEpoch) -> None:
            self.losses.setdefault(event.stage, []).append(event.loss)

        def on_explain_batch(self, event: ExplainBatch) -> None:
            print(f"batch {event.batch} of {event.batches}: {event.valid} of {event.size} valid")

    recorder = Recorder()
    with TensorBoardLogger(out / "tensorboard") as board:  # or MLflowLogger(uri)
        run = lf.fit_run(out / "tracked-run", config, callbacks=[recorder, board])
        x = run.test.images[:64]
        run.explainer().explain(x, target=3, callbacks=[recorder, board])
    for stage, losses in recorder.losses.items():
        print(f"{stage}: {len(losses)} epochs, loss {losses[0]:.4g} -> {losses[-1]:.4g}")
    return recorder.losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("work/tracking"))
    parser.add_argument("--quick", action="store_true", help="tiny epochs (for the tests)")
    args = parser.parse_args()
    fit_and_explain(args.out, args.quick)


if __name__ == "__main__":
    main()
