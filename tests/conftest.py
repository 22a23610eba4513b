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


TINY = dict(
    vae_width=8,
    vae_epochs=1,
    classifier_width=8,
    classifier_epochs=2,
    flow_epochs=3,
    latent_dim=8,
    oracle_width=8,
    cvae_epochs=1,
)


@pytest.fixture(scope="session")
def tiny_config():
    from leapfactual.pipeline import FitConfig

    return FitConfig(**TINY)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_config):
    """A run fitted on mnist5k with tiny models and one or two epochs (a few seconds)."""
    from leapfactual.pipeline import fit_run

    return fit_run(tmp_path_factory.mktemp("runs") / "tiny", tiny_config)
