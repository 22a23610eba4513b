"""Tiny settings for running an example's code path in seconds (its ``--quick``)."""

from __future__ import annotations

QUICK: dict[str, object] = {
    "vae.epochs": 1,
    "vae.latent_dim": 8,
    "vae.width": 8,
    "classifier.width": 8,
    "classifier.epochs": 1,
    "flow.epochs": 2,
    "vae.min_steps": 0,  # the code path only: no minimum of optimiser steps
    "classifier.min_steps": 0,
    "flow.min_steps": 0,
    "oracle.width": 8,
    "oracle.epochs": 1,
    "oracle.min_steps": 0,
    "cvae.epochs": 1,
    "cvae.latent_dim": 8,
    "cvae.width": 8,
    "cvae.min_steps": 0,
}
"""``--set`` keys -> values (:func:`leapfactual.pipeline.override`); the models they give
explain nothing worth reading."""

NO_MIN_STEPS: dict[str, object] = {
    f"{stage}.min_steps": 0 for stage in ("vae", "classifier", "flow")
}
"""Only the minimum optimiser steps lifted: epochs as given, however small the data."""


def set_args(assignments: dict[str, object]) -> list[str]:
    """``assignments`` as command-line ``--set KEY=VALUE`` arguments."""
    return [arg for key, value in assignments.items() for arg in ("--set", f"{key}={value}")]
