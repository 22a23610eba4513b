import json
from collections.abc import Sequence

import pytest
import torch
from torch import Tensor, nn

from leapfactual.training import Plateau, fit, plateau_epoch


def test_the_last_improvement_counts_only_gains_above_the_minimum() -> None:
    assert plateau_epoch([1.0, 0.5, 0.499, 0.498], patience=2, min_improvement=0.01) == 2
    assert plateau_epoch([1.0, 0.5, 0.499, 0.498], patience=2, min_improvement=0.0) == 4
    assert plateau_epoch([1.0, 1.2, 1.1], patience=2, min_improvement=0.01) == 1
    assert plateau_epoch([], patience=2, min_improvement=0.01) == 0


def held_out_of(model_box: list[nn.Linear]) -> float:
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(64, 2, generator=gen)
    y = x @ torch.tensor([[1.0], [-2.0]]) + 0.1 * torch.randn(64, 1, generator=gen)
    with torch.no_grad():
        return float((model_box[0](x) - y).pow(2).mean())


def stopped_toy(patience: int, min_epochs: int, epochs: int = 40) -> tuple[Plateau, list[float]]:
    box: list[nn.Linear] = []
    plateau = Plateau(lambda: held_out_of(box), patience, 0.01, min_epochs, epochs)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(128, 2, generator=gen)
    y = x @ torch.tensor([[1.0], [-2.0]]) + 0.1 * torch.randn(128, 1, generator=gen)
    model = nn.Linear(2, 1)
    box.append(model)

    def step(batch: Sequence[Tensor], generator: torch.Generator) -> Tensor:
        return (model(batch[0]) - batch[1]).pow(2).mean()

    history = fit(model, [x, y], step, epochs=epochs, batch_size=16, lr=0.05, stop=plateau)
    return plateau, history


def test_patience_stops_a_plateaued_run_early_and_says_why() -> None:
    plateau, history = stopped_toy(patience=2, min_epochs=1)
    record = plateau.record
    assert len(history) == record["epochs"] < 40
    assert record["epochs"] - record["best_epoch"] == 2
    assert record["reason"].startswith("held-out loss plateaued")
    assert len(record["held_out"]) == record["epochs"]


def test_without_a_plateau_training_runs_to_the_maximum() -> None:
    plateau, history = stopped_toy(patience=50, min_epochs=1, epochs=6)
    assert len(history) == 6 and plateau.record["epochs"] == 6
    assert plateau.record["reason"] == "reached the maximum of 6 epochs"


def test_never_stops_before_the_minimum_epochs() -> None:
    early, _ = stopped_toy(patience=1, min_epochs=1)
    assert early.record["epochs"] < 15  # it would stop long before the minimum below
    late, history = stopped_toy(patience=1, min_epochs=15)
    assert len(history) == 15 and late.record["min_epochs"] == 15


def test_same_seed_same_stop() -> None:
    first, a = stopped_toy(patience=2, min_epochs=1)
    second, b = stopped_toy(patience=2, min_epochs=1)
    assert a == b and first.record == second.record


def test_a_resumed_plateau_reads_the_losses_of_the_epochs_the_checkpoint_holds(tmp_path) -> None:
    (tmp_path / "plateau.json").write_text(json.dumps({"held_out": [1.0, 0.5, 0.5, 9.0]}))
    plateau = Plateau(lambda: 0.5, 2, 0.01, 1, 10, checkpoint=tmp_path)
    assert plateau(4) is True  # epochs 1-3 read back (the 4th is re-measured): best at epoch 2
    assert plateau.record["held_out"] == [1.0, 0.5, 0.5, 0.5]
    (tmp_path / "plateau.json").write_text('{"held_out": [1.0, "x"]}')  # damaged: not trusted
    fresh = Plateau(lambda: 0.5, 2, 0.01, 1, 10, checkpoint=tmp_path)
    assert fresh(1) is False and fresh.record["held_out"] == [0.5]


def test_a_plateau_needs_patience() -> None:
    with pytest.raises(ValueError, match="patience >= 1"):
        Plateau(lambda: 0.0, 0, 0.01, 1, 10)
