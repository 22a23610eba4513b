"""A saved explanation read on demand, for explanations larger than memory.

``open_explanation(DIR)`` checks ``DIR/explanation.*`` once (its SHA-256 streamed, its schema
as :meth:`Explanation.load <leapfactual.explain.Explanation.load>` checks it) and returns a
:class:`StoredExplanation`: the method, cost, settings and length at once, any tensor or any
rows read from the memory-mapped file when asked (``stored.column("target")``,
``stored[1000:1010]`` as an :class:`~leapfactual.explain.Explanation` of those rows). A
merged sharded job (``leapfactual explain --shard-size N``) is opened this way.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from leapfactual.explain.explanation import (
    TENSOR_FIELDS,
    Cost,
    Explanation,
    check_stored,
    reaches,
    row_indices,
    rows_config,
)
from leapfactual.io import CheckpointError, Rows, TensorFile


def open_explanation(directory: str | os.PathLike[str]) -> StoredExplanation:
    """Open the explanation saved in ``directory`` without reading its tensors: the files are
    checked first (a damaged, truncated or edited file raises a ``CheckpointError`` naming
    it); only the classes (``source``, ``target``) are read, to check them."""
    file = TensorFile(Path(directory) / "explanation")
    meta = file.meta
    if meta.get("kind") != "explanation":
        raise CheckpointError(f"{directory} does not hold an explanation")
    shapes = {k: torch.empty(s, dtype=d, device="meta") for k, (d, s) in file.layout.items()}
    shapes |= {k: file.read(k) for k in ("source", "target") if k in shapes}
    check_stored(file.path.with_suffix(".json"), shapes, meta)
    return StoredExplanation(
        directory=Path(directory),
        file=file,
        method=meta["method"],
        cost=Cost(**meta["cost"]),
        config=meta.get("config", {}),
        tolerance=meta.get("tolerance"),
    )


@dataclass(frozen=True)
class StoredExplanation:
    """An explanation on disk (made by :func:`open_explanation`); tensors are read when asked.

    Attributes:
        directory: where it is saved.
        file: its checked tensor file.
        method, cost, config, tolerance: as on :class:`~leapfactual.explain.Explanation`.
    """

    directory: Path
    file: TensorFile
    method: str
    cost: Cost
    config: dict[str, Any]
    tolerance: float | None

    def __len__(self) -> int:
        return int(self.file.layout["x"][1][0])

    @property
    def names(self) -> list[str]:
        """The tensors it holds, in :class:`~leapfactual.explain.Explanation`'s field order."""
        return [k for k in TENSOR_FIELDS if k in self.file.layout]

    def column(self, name: str, rows: Rows | None = None) -> Tensor:
        """Tensor ``name`` of every CE, or of ``rows`` (a slice, indices or a boolean mask)."""
        return self.file.read(name, rows)

    @property
    def valid(self) -> Tensor:
        """Whether each CE reaches its target (see ``Explanation.valid``)."""
        return self._reaches("probs_cf")

    @property
    def valid_reliable(self) -> Tensor | None:
        """Whether each reliable CE reaches its target; None without reliable CEs."""
        return self._reaches("probs_reliable") if "probs_reliable" in self.file.layout else None

    @property
    def nonfinite(self) -> Tensor | None:
        """The samples marked invalid for a non-finite model output (see
        ``Explanation.nonfinite``); None when the job did not mark them."""
        return self.column("nonfinite") if "nonfinite" in self.file.layout else None

    def _reaches(self, probs: str) -> Tensor:
        return reaches(self.column(probs), self.column("target"), self.tolerance, self.nonfinite)

    def __getitem__(self, index: int | slice | Sequence[int] | Tensor) -> Explanation:
        """The CEs at ``index`` read into an :class:`~leapfactual.explain.Explanation`, as
        ``Explanation.__getitem__`` picks them (cost scaled, input names following)."""
        rows = row_indices(index, len(self))
        picked: dict[str, Any] = {k: self.column(k, rows) for k in self.names}
        return Explanation(
            method=self.method,
            cost=self.cost.scaled(len(rows)),
            config=rows_config(self.config, rows, len(self)),
            tolerance=self.tolerance,
            **picked,
        )

    def load(self, device: str | torch.device = "cpu") -> Explanation:
        """All of it in memory, on ``device``."""
        tensors: dict[str, Any] = {k: self.column(k).to(device) for k in self.names}
        return Explanation(
            method=self.method,
            cost=self.cost,
            config=self.config,
            tolerance=self.tolerance,
            **tensors,
        )

    def __repr__(self) -> str:
        return (
            f"StoredExplanation({str(self.directory)!r}: {self.method!r}, {len(self)} CEs, "
            f"tensors {self.names})"
        )
