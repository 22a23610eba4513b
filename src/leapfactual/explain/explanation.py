"""The result of every explainer: tensors plus cost and settings, saved as safetensors + JSON."""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from leapfactual._version import __version__
from leapfactual.io import CheckpointError, load_tensors, save_tensors

TENSOR_FIELDS = (
    "x",
    "x_cf",
    "source",
    "target",
    "probs",
    "probs_cf",
    "z",
    "z_cf",
    "x_reliable",
    "z_reliable",
    "probs_reliable",
    "steps",
    "trajectory",
    "trajectory_probs",
    "trajectory_images",
)


@dataclass
class Cost:
    """Work done, counted in per-sample network evaluations (a batch of B counts B)."""

    n: int = 0
    encoder: int = 0
    decoder: int = 0
    classifier: int = 0
    field: int = 0
    gradient_steps: int = 0
    seconds: float = 0.0

    def per_ce(self) -> dict[str, float]:
        """Every counter divided by the number of counterfactuals."""
        n = max(self.n, 1)
        return {k: v / n for k, v in asdict(self).items() if k != "n"}

    def add(self, other: Cost) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


class Timer:
    """Adds the wall time of a ``with`` block to ``cost.seconds``."""

    def __init__(self, cost: Cost) -> None:
        self.cost = cost

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cost.seconds += time.perf_counter() - self.start


@dataclass
class Explanation:
    """Counterfactuals for a batch, from any explainer.

    Attributes:
        method: name of the explainer.
        x: the inputs ``[B, ...]``.
        x_cf: the counterfactuals (LeapFactual: after blending).
        source: the classifier's label of each input ``[B]``.
        target: the requested class ``[B]``.
        probs: classifier probabilities on ``x`` ``[B, K]``.
        probs_cf: classifier probabilities on ``x_cf``.
        z, z_cf: latents of input and counterfactual (None for pixel-space methods).
        x_reliable, z_reliable, probs_reliable: the reliable CE after injection, if asked.
        steps: iterations (leaps, gradient steps) each sample took ``[B]``.
        trajectory: latents after every iteration ``[B, T + 1, D]`` (padded with the last
            state once a sample stopped), if asked.
        trajectory_probs: classifier probabilities along the trajectory ``[B, T + 1, K]``.
        trajectory_images: decoded images along the trajectory ``[B, T + 1, ...]``.
        cost: evaluations and wall time.
        config: the explainer's settings, for the record.
    """

    method: str
    x: Tensor
    x_cf: Tensor
    source: Tensor
    target: Tensor
    probs: Tensor
    probs_cf: Tensor
    z: Tensor | None = None
    z_cf: Tensor | None = None
    x_reliable: Tensor | None = None
    z_reliable: Tensor | None = None
    probs_reliable: Tensor | None = None
    steps: Tensor | None = None
    trajectory: Tensor | None = None
    trajectory_probs: Tensor | None = None
    trajectory_images: Tensor | None = None
    cost: Cost = field(default_factory=Cost)
    config: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def valid(self) -> Tensor:
        """Whether the classifier puts each CE in its target class."""
        return self.probs_cf.argmax(dim=1) == self.target

    @property
    def valid_reliable(self) -> Tensor | None:
        """Whether the classifier puts each reliable CE in its target class."""
        if self.probs_reliable is None:
            return None
        return self.probs_reliable.argmax(dim=1) == self.target

    def tensors(self) -> dict[str, Tensor]:
        """All tensors that are set, by name."""
        return {k: getattr(self, k) for k in TENSOR_FIELDS if getattr(self, k) is not None}

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``explanation.safetensors`` + ``explanation.json`` into ``directory``."""
        out = Path(directory)
        meta = {
            "kind": "explanation",
            "method": self.method,
            "cost": asdict(self.cost),
            "config": self.config,
            "leapfactual_version": __version__,
        }
        save_tensors(out / "explanation", self.tensors(), meta)
        return out

    @classmethod
    def load(
        cls, directory: str | os.PathLike[str], device: str | torch.device = "cpu"
    ) -> Explanation:
        """Read an explanation written by :meth:`save`."""
        tensors, meta = load_tensors(Path(directory) / "explanation", device)
        if meta.get("kind") != "explanation":
            raise CheckpointError(f"{directory} does not hold an explanation")
        return cls(
            method=meta["method"],
            cost=Cost(**meta["cost"]),
            config=meta.get("config", {}),
            **tensors,
        )
