"""The process-group helpers in one process, and the layering of the package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

import leapfactual.distributed
from leapfactual.distributed import all_reduce_sum, barrier, init, resolve_device, world


def test_without_torchrun_the_world_is_one_process(monkeypatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert world() == init() and not world().distributed and world().is_main
    assert all_reduce_sum([1.5, 2]) == [1.5, 2.0]
    barrier()  # nothing to wait for


def test_torchrun_variables_are_read_and_checked(monkeypatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert world() == leapfactual.distributed.World(2, 4, 0)
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    with pytest.raises(ValueError, match=r"MASTER_ADDR.*torchrun --nproc-per-node"):
        init()
    monkeypatch.setenv("RANK", "7")
    with pytest.raises(ValueError, match="RANK=7 is outside WORLD_SIZE=4"):
        world()
    monkeypatch.setenv("RANK", "x")
    with pytest.raises(ValueError, match="RANK='x' is not an integer"):
        world()


def test_context_sits_below_training() -> None:
    """training imports distributed.context, so context must import nothing of ours and the
    package's __init__ nothing above it (shards, which needs explain, is imported by name)."""
    root = Path(leapfactual.distributed.__file__).parent
    for name in ("context.py", "__init__.py"):
        for node in ast.walk(ast.parse((root / name).read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert node.module in {"__future__", "leapfactual.distributed.context"} or (
                    not node.module.startswith("leapfactual")
                ), (name, node.module)


@pytest.mark.parametrize(
    ("device", "says"),
    [
        ("bogus", r"unknown device 'bogus'; give cpu, cuda"),
        ("cuda:99", r"device 'cuda:99' (is not available here|does not exist)"),
        ("xpu", r"device 'xpu' is not available here"),
    ],
)
def test_an_unusable_device_is_named(device: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        resolve_device(device)
    assert resolve_device("cpu") == torch.device("cpu")
