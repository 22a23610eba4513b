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
