"""Shared fixtures: small trained toy flow, reused across tests (a few seconds, once)."""

from __future__ import annotations

import pytest
import torch

from leapfactual.experiments.toy import ToyConfig, train_toy_flow
from leapfactual.flow import MLPField

torch.set_num_threads(max(1, torch.get_num_threads()))


@pytest.fixture(scope="session")
def toy_config() -> ToyConfig:
    return ToyConfig()


@pytest.fixture(scope="session")
def toy_field(toy_config: ToyConfig) -> MLPField:
    """The quadrant flow with the toy's default settings (about 8 s on 2 cores)."""
    return train_toy_flow(toy_config)
