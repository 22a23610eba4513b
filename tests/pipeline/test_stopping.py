import math
from dataclasses import replace

import torch

from leapfactual.pipeline import ClassifierSettings, FlowSettings, VAESettings
from leapfactual.pipeline.build import fit_classifier, fit_flow, fit_vae
from leapfactual.pipeline.stopping import holdout_split


def digits(n: int = 120) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return torch.rand(n, 1, 8, 8, generator=gen), torch.randint(0, 3, (n,), generator=gen)


def test_the_held_out_tenth_is_seeded_and_disjoint() -> None:
    train, held = holdout_split(50, seed=3)
    assert len(held) == 5 and len(train) == 45
    assert set(train.tolist()).isdisjoint(held.tolist())
    assert torch.equal(holdout_split(50, seed=3)[1], held)


def test_a_stage_that_cannot_improve_stops_after_its_patience() -> None:
    x, y = digits()
    record: dict = {}
    frozen = ClassifierSettings(
        width=4, epochs=30, lr=1e-12, batch_size=32, min_steps=0, patience=2
    )
    fit_classifier(x, y, 3, frozen, 0, record=record)
    assert record["epochs"] == 3 and record["best_epoch"] == 1  # epoch 1, then 2 without gain
    assert "plateaued" in record["reason"] and record["max_epochs"] == 30
    assert record["steps"] == 3 * math.ceil(108 / 32)  # 12 of the 120 held out


def test_never_before_min_steps() -> None:
    x, y = digits()
    record: dict = {}
    frozen = ClassifierSettings(
        width=4, epochs=30, lr=1e-12, batch_size=32, min_steps=40, patience=1
    )
    fit_classifier(x, y, 3, frozen, 0, record=record)
    assert record["steps"] >= 40 and record["epochs"] == math.ceil(40 / 4)
    assert "plateaued" in record["reason"]


def test_vae_and_flow_stop_on_their_held_out_loss_and_record_it() -> None:
    x, _ = digits()
    record: dict = {}
    vae = VAESettings(
        kind="conv", width=4, latent_dim=2, epochs=30, lr=1e-12, min_steps=0, probe=False
    )
    fit_vae(x, replace(vae, patience=1), 0, record=record)
    assert record["epochs"] == 2 and len(record["held_out"]) == 2
    flow: dict = {}
    z, p = torch.randn(100, 2), torch.softmax(torch.randn(100, 3), 1)
    settings = FlowSettings(width=8, epochs=30, lr=1e-12, min_steps=0, patience=1)
    fit_flow(z, p, settings, 0, record=flow)
    assert flow["epochs"] == 2 and flow["held_out"][0] == flow["held_out"][1]


def test_without_patience_the_record_says_fixed_epochs() -> None:
    x, y = digits()
    record: dict = {}
    fit_classifier(x, y, 3, ClassifierSettings(width=4, epochs=2, min_steps=0), 0, record=record)
    assert record == {
        "epochs": 2,
        "max_epochs": 2,
        "reason": "fixed number of epochs (patience = 0)",
        "steps": 2 * math.ceil(120 / 64),
    }


def test_the_run_records_where_each_stage_stopped(tiny_run) -> None:
    stopping = tiny_run.meta["stopping"]
    assert {"vae", "classifier", "flow"} <= set(stopping)
    assert all(isinstance(r["reason"], str) and r["epochs"] >= 1 for r in stopping.values())
    assert tiny_run.meta["vae_steps"] == stopping["vae"]["steps"]


def test_channels_last_trains_the_same_model_within_float_rounding() -> None:
    x, y = digits(64)
    plain = ClassifierSettings(width=4, epochs=2, batch_size=16, min_steps=0)
    a = fit_classifier(x, y, 3, plain, 0)
    b = fit_classifier(x, y, 3, replace(plain, channels_last=True), 0)
    assert all(p.is_contiguous() for p in b.parameters())  # put back after training
    assert torch.allclose(a(x), b(x), atol=1e-4)
