import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from leapfactual.flow import MLPField, train_flow
from leapfactual.io import CheckpointError, load_tensors
from leapfactual.training import StepFn, fit, load_checkpoint, save_checkpoint


class Tiny(nn.Module):
    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.config = {"width": width}
        self.net = nn.Sequential(nn.Linear(3, width), nn.Tanh(), nn.Linear(width, 1))


def regression_data(n: int = 96) -> list[Tensor]:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, generator=gen)
    return [x, x.sum(1, keepdim=True).sin()]


def noisy_step(model: Tiny) -> StepFn:
    """A step that also draws noise from the generator, like a VAE or an augmentation."""

    def step(batch: Sequence[Tensor], generator: torch.Generator) -> Tensor:
        noise = 0.1 * torch.randn(batch[0].shape, generator=generator)
        return (model.net(batch[0] + noise) - batch[1]).pow(2).mean()

    return step


SETTINGS = dict(batch_size=16, lr=1e-2, weight_decay=1e-3, lr_milestones=(2,), seed=4)


def train(epochs: int, checkpoint: Path | None, init_seed: int = 0, **kw) -> tuple[Tiny, list]:
    torch.manual_seed(init_seed)
    model = Tiny(kw.pop("width", 8))
    options = {**SETTINGS, **kw}
    data = options.pop("data", regression_data())
    history = fit(model, data, noisy_step(model), epochs=epochs, checkpoint=checkpoint, **options)
    return model, history


def assert_same_weights(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path: Path) -> None:
    straight, history = train(3, None)
    train(1, tmp_path / "ckpt")
    # a fresh process would build the model with other random weights: the checkpoint wins
    resumed, resumed_history = train(3, tmp_path / "ckpt", init_seed=99)
    assert_same_weights(straight, resumed)
    assert resumed_history == history
    assert [p.name for p in sorted((tmp_path / "ckpt").iterdir())] == [
        "epoch-000003.json",
        "epoch-000003.safetensors",
    ]


def test_a_run_killed_mid_epoch_resumes_exactly(tmp_path: Path) -> None:
    straight, history = train(4, None)
    torch.manual_seed(0)
    model = Tiny()
    inner = noisy_step(model)
    calls = {"n": 0}

    def crashing(batch: Sequence[Tensor], generator: torch.Generator) -> Tensor:
        calls["n"] += 1
        if calls["n"] == 15:  # in the third epoch (6 batches per epoch)
            raise KeyboardInterrupt
        return inner(batch, generator)

    with pytest.raises(KeyboardInterrupt):
        fit(model, regression_data(), crashing, epochs=4, checkpoint=tmp_path, **SETTINGS)
    resumed, resumed_history = train(4, tmp_path, init_seed=5)
    assert_same_weights(straight, resumed)
    assert resumed_history == history


def test_checkpoint_every_k_epochs_and_the_last(tmp_path: Path) -> None:
    train(3, tmp_path, checkpoint_every=2)
    _, meta = load_tensors(tmp_path / "epoch-000003")
    assert meta["epoch"] == 3 and len(meta["history"]) == 3


def test_a_finished_checkpoint_returns_its_result_without_training(tmp_path: Path) -> None:
    first, history = train(2, tmp_path)
    torch.manual_seed(1)
    model = Tiny()

    def never(batch: Sequence[Tensor], generator: torch.Generator) -> Tensor:
        raise AssertionError("should not train")

    again = fit(model, regression_data(), never, epochs=2, checkpoint=tmp_path, **SETTINGS)
    assert again == history
    assert_same_weights(first, model)
    assert not model.training


def test_incomplete_newest_pair_is_skipped(tmp_path: Path) -> None:
    straight, _ = train(3, None)
    train(2, tmp_path)
    # a crash between the two writes of epoch 3 leaves tensors without their sidecar
    shutil.copy(tmp_path / "epoch-000002.safetensors", tmp_path / "epoch-000003.safetensors")
    resumed, _ = train(3, tmp_path)
    assert_same_weights(straight, resumed)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lr": 2e-2}, "settings.lr"),
        ({"batch_size": 8}, "settings.batch_size"),
        ({"seed": 5}, "settings.seed"),
        ({"width": 16}, "model.config.width"),
        ({"data": regression_data(64)}, "data"),
        ({"settings": {"augment": 2}}, "settings.augment"),
    ],
)
def test_a_checkpoint_of_another_configuration_is_refused(
    tmp_path: Path, change: dict, field: str
) -> None:
    train(1, tmp_path)
    with pytest.raises(CheckpointError, match="different configuration") as err:
        train(2, tmp_path, **change)
    assert field in str(err.value)
    assert "delete" in str(err.value)


def test_changed_data_of_the_same_size_is_refused(tmp_path: Path) -> None:
    train(1, tmp_path)
    x, y = regression_data()
    with pytest.raises(CheckpointError, match=r"data\.1\.sha256"):
        train(2, tmp_path, data=[x, y + 1])


def test_a_checkpoint_past_the_requested_epochs_is_refused(tmp_path: Path) -> None:
    train(3, tmp_path)
    with pytest.raises(CheckpointError, match="epochs >= 3"):
        train(2, tmp_path)


def test_a_directory_of_broken_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "epoch-000001.safetensors").write_bytes(b"garbage")
    (tmp_path / "epoch-000001.json").write_text("{}")
    with pytest.raises(CheckpointError, match="no complete training checkpoint"):
        train(2, tmp_path)


def test_optimizer_scheduler_and_rng_state_round_trip(tmp_path: Path) -> None:
    model, _ = train(3, None)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [1, 2], 0.5)
    model.net[0].weight.sum().backward()
    opt.step()
    sched.step()
    gen = torch.Generator().manual_seed(3)
    torch.rand(5, generator=gen)
    fp = {"any": [1, 2]}
    save_checkpoint(
        tmp_path, model=model, optimizer=opt, scheduler=sched, generator=gen, epoch=1,
        history=[0.5], fingerprint=fp,
    )  # fmt: skip
    meta = json.loads((tmp_path / "epoch-000001.json").read_text())
    assert meta["optimizer"]["param_groups"][0]["lr"] == pytest.approx(5e-3)

    other = Tiny()
    opt2 = torch.optim.AdamW(other.parameters(), lr=1e-2, weight_decay=1e-3)
    sched2 = torch.optim.lr_scheduler.MultiStepLR(opt2, [1, 2], 0.5)
    gen2 = torch.Generator().manual_seed(0)
    resumed = load_checkpoint(
        tmp_path, model=other, optimizer=opt2, scheduler=sched2, generator=gen2, fingerprint=fp
    )
    assert resumed is not None and resumed.epoch == 1 and resumed.history == [0.5]
    assert_same_weights(model, other)
    a, b = opt.state_dict(), opt2.state_dict()
    assert a["param_groups"] == b["param_groups"]
    for pid, state in a["state"].items():
        assert all(torch.equal(v, b["state"][pid][k]) for k, v in state.items())
    assert sched.state_dict() == sched2.state_dict()
    assert torch.equal(torch.rand(4, generator=gen), torch.rand(4, generator=gen2))


def test_no_checkpoint_in_an_empty_or_missing_directory(tmp_path: Path) -> None:
    model = Tiny()
    opt = torch.optim.Adam(model.parameters())
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [])
    for folder in (tmp_path, tmp_path / "missing"):
        state = dict(optimizer=opt, scheduler=sched, generator=torch.Generator())
        assert load_checkpoint(folder, model=model, fingerprint={}, **state) is None


def test_history_is_the_sample_weighted_mean_loss() -> None:
    model = Tiny()
    values = torch.arange(5.0).unsqueeze(1)  # batches of 2, 2, 1

    def step(batch: Sequence[Tensor], generator: torch.Generator) -> Tensor:
        return model.net[2].bias.sum() * 0 + batch[0].mean()

    history = fit(model, [values], step, epochs=2, batch_size=2, lr=1e-3)
    assert history == pytest.approx([2.0, 2.0])


def test_training_is_deterministic_with_a_seed() -> None:
    a, ha = train(2, None)
    b, hb = train(2, None)
    c, _ = train(2, None, seed=1)
    assert_same_weights(a, b)
    assert ha == hb
    assert not torch.equal(a.net[0].weight, c.net[0].weight)


def test_loss_falls() -> None:
    _, history = train(8, None, weight_decay=0.0, lr_milestones=(), lr=3e-2)
    assert history[-1] < 0.5 * history[0]


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"epochs": 0}, "positive"),
        ({"batch_size": 0}, "positive"),
        ({"lr": 0.0}, "learning rate"),
        ({"data": [torch.zeros(4, 3), torch.zeros(5, 1)]}, "same, non-zero number"),
        ({"data": []}, "non-empty"),
        ({"max_grad_norm": float("nan")}, "max_grad_norm"),
        ({"max_grad_norm": 0.0}, "max_grad_norm"),
    ],
)
def test_bad_arguments_are_refused(kw: dict, match: str) -> None:
    model = Tiny()
    options = {"epochs": 1, "batch_size": 2, "lr": 1e-3, "data": regression_data(8), **kw}
    data = options.pop("data")
    with pytest.raises(ValueError, match=match):
        fit(model, data, noisy_step(model), **options)


def test_gradient_clipping_bounds_the_gradient_of_every_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Adam normalises its step, so the test watches the gradient the optimiser is given."""
    seen: list[float] = []
    original = torch.optim.Adam.step

    def spy(self: torch.optim.Adam, *args: object, **kwargs: object) -> object:
        grads = [p.grad for group in self.param_groups for p in group["params"]]
        seen.append(float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    for clip in (None, 0.5):
        torch.manual_seed(0)
        model = Tiny()
        step = noisy_step(model)

        def scaled(batch: Sequence[Tensor], generator: torch.Generator, s=step) -> Tensor:
            return 1e6 * s(batch, generator)

        fit(
            model, regression_data(16), scaled, epochs=1, batch_size=16, lr=1e-3, max_grad_norm=clip
        )
    assert seen[0] > 1e3
    assert seen[1] == pytest.approx(0.5, rel=1e-4)


def test_progress_bar_runs() -> None:
    _, history = train(1, None, progress=True, desc="tiny")
    assert len(history) == 1


def test_train_flow_resumes_bit_identically(tmp_path: Path) -> None:
    gen = torch.Generator().manual_seed(0)
    z, labels = torch.randn(200, 4, generator=gen), torch.arange(200) % 3

    def run(epochs: int, checkpoint: Path | None) -> tuple[MLPField, list[float]]:
        torch.manual_seed(0)
        field = MLPField(4, 3, width=16, depth=2, condition="class")
        options = dict(lr_milestones=(2,), coupling="ot", sigma=1e-4, seed=2, batch_size=64)
        history = train_flow(
            field, z, labels, epochs=epochs, lr=5e-3, checkpoint=checkpoint, **options
        )
        return field, history

    straight, history = run(3, None)
    run(2, tmp_path)
    resumed, resumed_history = run(3, tmp_path)
    assert_same_weights(straight, resumed)
    assert resumed_history == history
    with pytest.raises(CheckpointError, match="coupling"):
        torch.manual_seed(0)
        field = MLPField(4, 3, width=16, depth=2, condition="class")
        train_flow(field, z, labels, epochs=4, lr=5e-3, seed=2, batch_size=64, lr_milestones=(2,),
                   checkpoint=tmp_path)  # fmt: skip


def test_a_checkpoint_damaged_in_place_is_refused_by_its_hash(tmp_path: Path) -> None:
    train(1, tmp_path)
    (stem,) = tmp_path.glob("epoch-*.safetensors")
    raw = bytearray(stem.read_bytes())
    raw[-4:] = bytes(b ^ 0xFF for b in raw[-4:])  # structure intact, content changed
    stem.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=r"no complete training checkpoint .*SHA-256"):
        train(2, tmp_path)
