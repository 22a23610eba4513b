"""Fixtures of the library's tests (the shared ones are in the repository's conftest.py)."""

from __future__ import annotations

import pytest

from leapfactual.flow import MLPField
from leapfactual.testing import quadrant_flow


@pytest.fixture(scope="session")
def toy_field() -> MLPField:
    """The quadrant flow of :mod:`leapfactual.testing` (about a second): it sends over 95 %
    of each class's samples into their quadrant (the tests ask for 90 %)."""
    return quadrant_flow(points=4096, epochs=40)


@pytest.fixture(scope="session")
def cli(run_command):
    """``cli("explain", RUN, "--out", DIR)`` -> what ``leapfactual ARGS`` did."""
    from leapfactual.cli.app import main

    return lambda *args: run_command(main, "leapfactual", *args)
