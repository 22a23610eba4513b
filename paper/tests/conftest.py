"""Fixtures of the paper's tests (the shared ones are in the repository's conftest.py)."""

from __future__ import annotations

import pytest

from leapfactual.flow import VectorField
from paper.experiments.toy import ToyConfig, train_toy_flow


@pytest.fixture(scope="session")
def toy_config() -> ToyConfig:
    """The toy with a quarter of the points and 40 epochs: its flow still sends over 95 % of
    each class's samples into their quadrant (the tests ask for 90 %)."""
    return ToyConfig(points=4096, epochs=40)


@pytest.fixture(scope="session")
def toy_field(toy_config: ToyConfig) -> VectorField:
    """The quadrant flow trained with :func:`toy_config` (about a second)."""
    return train_toy_flow(toy_config)


@pytest.fixture(scope="session")
def cli(run_command):
    """``cli("divergence", "--out", DIR)`` -> what ``python -m paper ARGS`` did."""
    from paper.cli.app import main

    return lambda *args: run_command(main, "paper", *args)


@pytest.fixture(scope="session")
def morpho_bench(tiny_run, tiny_config, tmp_path_factory):
    """The Morpho-MNIST bench at two seeds on tiny models, 12 digits (seed 0 starts from the
    tiny run and adds its oracle and CVAE): ``(run_dir, result, config)``."""
    import shutil

    from paper.experiments.morphomnist import MorphoBenchConfig, run_morpho_bench

    run_dir = tmp_path_factory.mktemp("bench") / "run"
    shutil.copytree(tiny_run.directory, run_dir / "seed-0")
    config = MorphoBenchConfig(limit=12, opt_steps=3, attack_steps=3, seeds=(0, 1))
    return run_dir, run_morpho_bench(run_dir, tiny_config, config, device="cpu"), config
