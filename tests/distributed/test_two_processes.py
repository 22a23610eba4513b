"""Two gloo processes on the CPU (launched with torchrun) against one process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import toys
from safetensors.torch import load_file

from leapfactual.pipeline.shards import merge_shards
from leapfactual.testing import NO_MIN_STEPS, set_args
from leapfactual.training import fit

HERE = Path(__file__).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def torchrun(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``torchrun --nproc-per-node 2`` on a free local port, with one thread per process."""
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--master-addr",
        "127.0.0.1",
        "--master-port",
        str(free_port()),
        *args,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


@pytest.fixture(scope="module")
def launched(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ddp")
    done = torchrun(str(HERE / "worker.py"), str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def one_process(
    epochs: int = 3, chunks: int = 2, n: int = 91
) -> tuple[torch.nn.Module, list[float]]:
    model = toys.tiny()
    history = fit(
        model,
        toys.regression_data(n),
        toys.noisy_step(model),
        epochs=epochs,
        chunks=chunks,
        **toys.SETTINGS,
    )
    return model, history


def assert_ranks_match(launched: Path, run: str, model: torch.nn.Module, history: list) -> None:
    """Both ranks' weights and loss history of ``run`` equal one process's (and each other)."""
    ranks = [load_file(str(launched / f"w-{r}.st")) for r in (0, 1)]
    for key, value in model.state_dict().items():
        assert torch.allclose(ranks[0][f"{run}.{key}"], value, atol=1e-6), key
        assert torch.equal(ranks[0][f"{run}.{key}"], ranks[1][f"{run}.{key}"]), key
    for r in (0, 1):
        got = json.loads((launched / f"history-{r}.json").read_text())[run]
        assert got == pytest.approx(history, rel=1e-6)


def test_two_ranks_train_like_one_process_with_two_chunks(launched: Path) -> None:
    assert_ranks_match(launched, "straight", *one_process())


def test_gradients_are_summed_over_ranks(launched: Path) -> None:
    """Adam hides a uniform gradient scale, so compare the first step's gradient itself."""
    _, grad = toys.first_gradient(lambda: one_process(epochs=1))
    ranks = [load_file(str(launched / f"w-{r}.st"))["first_gradient"] for r in (0, 1)]
    assert torch.allclose(ranks[0], grad, atol=1e-6)
    assert torch.equal(ranks[0], ranks[1])


def test_no_sync_parts_and_an_idle_rank_train_like_one_process(launched: Path) -> None:
    assert_ranks_match(launched, "chunks4", *one_process(epochs=2, chunks=4, n=toys.TAIL))


def test_fit_trains_through_distributed_data_parallel(launched: Path) -> None:
    """Every fit wraps the step module in DDP; its forwards synchronise once per minibatch."""
    for r in (0, 1):
        built = json.loads((launched / f"ddp-{r}.json").read_text())
        assert [(b["wraps"], b["model"]) for b in built] == [("StepModule", "Tiny")] * 4
        straight, resumed2, resumed3, chunks4 = (b["synced"] for b in built)
        assert straight == [True] * 6 * 3  # 91 samples: 6 minibatches per epoch, one part each
        assert (len(resumed2), len(resumed3)) == (6 * 2, 6)
        # 81 samples in 4 parts: 5 minibatches of two parts per rank (the first under no_sync)
        # and a last of one sample, which rank 0 computes and rank 1 passes empty
        assert chunks4 == ([False, True] * 5 + [True]) * 2


def test_distributed_resume_matches_and_only_rank_0_writes(launched: Path) -> None:
    w0 = load_file(str(launched / "w-0.st"))
    for key in [k for k in w0 if k.startswith("straight.")]:
        resumed = w0[key.replace("straight.", "resumed.")]
        assert torch.allclose(resumed, w0[key], atol=1e-6), key
    histories = json.loads((launched / "history-0.json").read_text())
    assert histories["resumed3"] == pytest.approx(histories["straight"], rel=1e-6)
    assert (launched / "saves-0.txt").read_text().split() == ["1", "2", "3"]
    assert not (launched / "saves-1.txt").exists()
    # the two-process checkpoint resumes in one process with chunks=2
    model = toys.tiny(init_seed=7)
    fit(
        model,
        toys.regression_data(),
        toys.noisy_step(model),
        epochs=4,
        chunks=2,
        checkpoint=launched / "ckpt",
        **toys.SETTINGS,
    )
    reference, _ = one_process(epochs=4)
    for key, value in reference.state_dict().items():
        assert torch.allclose(model.state_dict()[key], value, atol=1e-6), key


def test_two_ranks_share_the_shards_and_merge_like_one_explain(launched: Path) -> None:
    computed = [json.loads((launched / f"shards-{r}.json").read_text()) for r in (0, 1)]
    assert computed == [[0, 2, 4, 6], [1, 3, 5]]
    merged = merge_shards(launched / "exp").load()
    x, targets = toys.toy_points()
    reference = toys.toy_explainer().explain(x, targets)
    assert len(merged) == 50 and merged.cost.n == 50
    for key, value in reference.tensors().items():
        assert torch.allclose(getattr(merged, key).to(value.dtype), value, atol=1e-5), key


def test_cli_fit_and_sharded_explain_under_torchrun(cli, tmp_path: Path) -> None:
    tiny = ["--latent-dim", "4", "--vae-epochs", "1", "--classifier-epochs", "1"]
    tiny += set_args({**NO_MIN_STEPS, "classifier.accept_chance": "true"})
    fit_done = torchrun(
        "-m",
        "leapfactual",
        "fit",
        "--out",
        "run",
        "--data",
        "digits",
        *tiny,
        "--flow-epochs",
        "1",
        cwd=tmp_path,
    )
    assert fit_done.returncode == 0, fit_done.stderr[-3000:]
    assert fit_done.stdout.count("classifier_test_accuracy") == 1  # rank 0 prints
    assert (tmp_path / "run" / "flow.safetensors").exists()
    args = ["-m", "leapfactual", "explain", "run", "--out", "exp", "--limit", "30"]
    args += ["--blend-steps", "2", "--inject-steps", "1", "--shard-size", "8"]
    explain_done = torchrun(*args, cwd=tmp_path)
    assert explain_done.returncode == 0, explain_done.stderr[-3000:]
    assert "4 shards in exp/shards: 0 were already done, rank 0 made 2" in explain_done.stdout
    from leapfactual.explain import Explanation

    assert len(Explanation.load(tmp_path / "exp")) == 30
    # the same job again, in one process (this one): every shard is reused
    absolute = {"run": str(tmp_path / "run"), "exp": str(tmp_path / "exp")}
    again = cli(*[absolute.get(a, a) for a in args[2:]])
    assert again.returncode == 0, again.stderr
    assert "4 were already done, rank 0 made 0" in again.stdout
    assert len(Explanation.load(tmp_path / "exp")) == 30
