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
}
"""``--set`` keys -> values (:func:`leapfactual.pipeline.override`); the models they give
explain nothing worth reading."""
