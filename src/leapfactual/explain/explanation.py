"""The result of every explainer: tensors plus cost and settings, saved as safetensors + JSON."""

from __future__ import annotations

import html
import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
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
    "variant",
    "nonfinite",
    "robust",
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

    def scaled(self, n: int) -> Cost:
        """This cost's share for ``n`` of its ``self.n`` CEs (counters rounded)."""
        share = n / max(self.n, 1)
        counts = {f.name: round(getattr(self, f.name) * share) for f in fields(self)}
        return Cost(**{**counts, "n": n, "seconds": self.seconds * share})

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
        variant: with ``diverse=K``, which of its input's K CEs each row is (0..K-1; the rows
            of an input are consecutive and ``x`` repeats the input).
        nonfinite: with ``Explainer.set_nonfinite("invalid")``, which samples met a NaN or
            infinite model output ``[B]`` (bool): they are invalid, their CE is their input
            and their other non-finite values are 0.
        robust: whether each CE is valid and stays valid after a codec round trip, a slight
            blur and slight noise ``[B]`` (bool; see
            :func:`leapfactual.metrics.robustness`), when measured (``explain_run`` does).
        tolerance: for a regressor (``probs`` then hold its values ``[B, 1]``, ``source`` its
            prediction and ``target`` the wanted value): a CE is valid within this distance.
        cost: evaluations and wall time.
        config: the explainer's settings, for the record; ``config["verdict"]``: the verdict
            of the run the CEs come from (``{"level": ..., "checks": [...]}``), when known.
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
    variant: Tensor | None = None
    nonfinite: Tensor | None = None
    robust: Tensor | None = None
    tolerance: float | None = None
    cost: Cost = field(default_factory=Cost)
    config: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def valid(self) -> Tensor:
        """Whether the classifier puts each CE in its target class (a regressor: within
        ``tolerance`` of the target value); a sample marked ``nonfinite`` never is."""
        return self.reaches(self.probs_cf)

    @property
    def valid_reliable(self) -> Tensor | None:
        """Whether the classifier puts each reliable CE in its target class."""
        if self.probs_reliable is None:
            return None
        return self.reaches(self.probs_reliable)

    def reaches(self, probs: Tensor) -> Tensor:
        """Whether outputs ``probs`` (one row per CE) meet each row's target: the target class
        wins, or (a regressor) the value lies within ``tolerance`` of the target."""
        return reaches(probs, self.target, self.tolerance, self.nonfinite)

    def __getitem__(self, index: int | slice | Sequence[int] | Tensor) -> Explanation:
        """The CEs at ``index`` (an int, a slice, indices or a boolean mask over the rows) as an
        Explanation; ``exp[3]`` keeps the batch axis (one row). The cost is the batch's, scaled
        to the rows kept (per-CE figures stay, up to rounding); per-input names in
        ``config["inputs"]`` follow the rows."""
        rows = row_indices(index, len(self))
        picked: dict[str, Any] = {k: v[rows.to(v.device)] for k, v in self.tensors().items()}
        config = rows_config(self.config, rows, len(self))
        return replace(self, **picked, cost=self.cost.scaled(len(rows)), config=config)

    def to(self, device: str | torch.device) -> Explanation:
        """The same explanation with every tensor on ``device``."""
        moved: dict[str, Any] = {k: v.to(device) for k, v in self.tensors().items()}
        return replace(self, **moved)

    @property
    def verdict(self) -> str:
        """The level of the run's verdict (``trusted``, ``caution``, ``untrusted``), or
        ``unknown`` when the CEs do not record one (made outside a run, or from a run fitted
        before verdicts): never ``trusted`` by default."""
        stored = self.config.get("verdict")
        level = stored.get("level") if isinstance(stored, dict) else None
        return str(level) if isinstance(level, str) else "unknown"

    def summary(self) -> dict[str, float | str]:
        """Headline numbers: the run's ``verdict`` (first: it says whether the rest means
        anything), count, validity, ``robust_validity`` (valid and still valid after a codec
        round trip, blur and noise; NaN when not measured), the validity of the reliable CEs,
        the mean probability of the target (classifiers) or distance to the target value
        (regressors), the mean L1 distance to the input per pixel, mean iterations, and the
        cost per CE."""
        out: dict[str, float | str] = {
            "verdict": self.verdict,
            "n": float(len(self)),
            "validity": _mean(self.valid),
            "robust_validity": _mean(self.robust) if self.robust is not None else math.nan,
        }
        if self.valid_reliable is not None:
            out["validity_reliable"] = _mean(self.valid_reliable)
        if len(self) and self.tolerance is None:
            rows = torch.arange(len(self), device=self.probs_cf.device)
            out["target_probability"] = _mean(self.probs_cf[rows, self.target.long()])
        elif len(self):
            out["distance_to_target"] = _mean((self.probs_cf[:, 0] - self.target).abs())
        out["l1_to_input"] = _mean((self.x_cf - self.x).abs().flatten(1).mean(1))
        if self.steps is not None:
            out["steps"] = _mean(self.steps)
        if self.nonfinite is not None:
            out["nonfinite"] = float(self.nonfinite.sum())
        out.update({f"{k}_per_ce": v for k, v in self.cost.per_ce().items() if v})
        return out

    def __repr__(self) -> str:
        numbers = self.summary()
        parts = [f"{self.method!r}", f"verdict {self.verdict}", f"{len(self)} CEs"]
        parts.append(f"validity {numbers['validity']:.3f}")
        if self.robust is not None:
            parts.append(f"robust {numbers['robust_validity']:.3f}")
        if "validity_reliable" in numbers:
            parts.append(f"reliable {numbers['validity_reliable']:.3f}")
        parts.append(f"x {list(self.x.shape)} {str(self.x.dtype).removeprefix('torch.')}")
        if self.z is not None:
            parts.append(f"z {list(self.z.shape)}")
        if self.trajectory is not None:
            parts.append(f"trajectory {self.trajectory.shape[1]} states")
        per_ce = {k: v for k, v in self.cost.per_ce().items() if v and k != "seconds"}
        if per_ce:
            parts.append(", ".join(f"{v:g} {k}" for k, v in per_ce.items()) + " per CE")
        parts.append(f"{self.cost.per_ce()['seconds'] * 1e3:.3g} ms per CE")
        return f"Explanation({'; '.join(parts)})"

    def _repr_html_(self) -> str:
        """Notebook view: the headline numbers (one row per number, so the table stays
        narrow in any cell) and up to eight inputs over their CEs."""
        from leapfactual.io import png_data_uri, tile

        shown = min(len(self), 8)
        rows_html = "".join(
            f'<tr><th style="text-align:left">{html.escape(k)}</th>'
            f'<td style="text-align:right">{html.escape(_cell(v))}</td></tr>'
            for k, v in self.summary().items()
        )
        table = f'<table class="leapfactual-summary">{rows_html}</table>'
        verdict = f"<div><b>run verdict: {html.escape(self.verdict)}</b></div>"
        if not shown or self.x.dim() != 4 or self.x.shape[1] not in (1, 3):
            return f"<div>{verdict}<b>{html.escape(repr(self))}</b>{table}</div>"
        rows = [self.x[:shown], self.x_cf[:shown]]
        if self.x_reliable is not None:
            rows.append(self.x_reliable[:shown])
        grid = tile(torch.cat(rows).float().clamp(0, 1).cpu(), ncol=shown)
        scale = max(1, 64 // int(self.x.shape[-1]))
        valid = "".join("&#10003;" if v else "&#10007;" for v in self.valid[:shown].tolist())
        caption = f"rows: input, CE{', reliable CE' if len(rows) == 3 else ''}; valid: {valid}"
        return (
            f"<div>{verdict}<b>{html.escape(self.method)}</b>: {len(self)} CEs{table}"
            f'<img src="{png_data_uri(grid, scale)}" alt="inputs and CEs" '
            'style="max-width:100%"/>'
            f"<div>{caption}</div></div>"
        )

    def tensors(self) -> dict[str, Tensor]:
        """All tensors that are set, by name."""
        return {k: getattr(self, k) for k in TENSOR_FIELDS if getattr(self, k) is not None}

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``explanation.safetensors`` + ``explanation.json`` into ``directory``."""
        out = Path(directory)
        meta = stored_meta(self.method, self.cost, self.tolerance, self.config)
        save_tensors(out / "explanation", self.tensors(), meta)
        return out

    @classmethod
    def load(
        cls, directory: str | os.PathLike[str], device: str | torch.device = "cpu"
    ) -> Explanation:
        """Read an explanation written by :meth:`save`; a file edited into something else
        (a missing or extra tensor, lengths that differ, a class outside the classifier's,
        a missing method or an unknown cost) raises a ``CheckpointError`` naming it."""
        tensors, meta = load_tensors(Path(directory) / "explanation", device)
        if meta.get("kind") != "explanation":
            raise CheckpointError(f"{directory} does not hold an explanation")
        check_stored(Path(directory) / "explanation.json", tensors, meta)
        return cls(
            method=meta["method"],
            cost=Cost(**meta["cost"]),
            config=meta.get("config", {}),
            tolerance=meta.get("tolerance"),
            **tensors,
        )


def stored_meta(
    method: str, cost: Cost, tolerance: float | None, config: dict[str, Any]
) -> dict[str, Any]:
    """The sidecar entries of a saved explanation (besides those ``io`` adds)."""
    return {
        "kind": "explanation",
        "method": method,
        "cost": asdict(cost),
        "tolerance": tolerance,
        "config": config,
        "leapfactual_version": __version__,
    }


def reaches(
    probs: Tensor, target: Tensor, tolerance: float | None, nonfinite: Tensor | None = None
) -> Tensor:
    """Whether outputs ``probs`` meet each row's ``target``: the target class wins, or (a
    regressor, ``tolerance`` given) the value lies within ``tolerance`` of the target; never
    for a row marked in ``nonfinite``."""
    if tolerance is not None:
        met = (probs[:, 0] - target).abs() <= tolerance
    else:
        met = probs.argmax(dim=1) == target
    return met if nonfinite is None else met & ~nonfinite.to(met.device)


def row_indices(index: int | slice | Sequence[int] | Tensor, n: int) -> Tensor:
    """The rows ``index`` picks out of ``n`` (an int, a slice, indices or a boolean mask) as a
    1-D CPU tensor of indices; an int keeps the batch axis (one row)."""
    if isinstance(index, slice):
        return torch.arange(*index.indices(n))
    return torch.arange(n)[index if isinstance(index, int) else _as_index(index)].reshape(-1)


def rows_config(config: dict[str, Any], rows: Tensor, n: int) -> dict[str, Any]:
    """``config`` of an explanation of ``n`` rows for its ``rows``: per-input names in
    ``config["inputs"]`` follow the rows."""
    picked = dict(config)
    names = picked.get("inputs")
    if isinstance(names, list) and len(names) == n:
        picked["inputs"] = [names[i] for i in rows.tolist()]
    return picked


REQUIRED = ("x", "x_cf", "source", "target", "probs", "probs_cf")


def check_stored(where: Path, tensors: dict[str, Tensor], meta: dict[str, Any]) -> None:
    """Raise a ``CheckpointError`` naming ``where`` unless ``tensors`` and ``meta`` make an
    :class:`Explanation`: the required tensors and no others, one row per input, classes
    within the classifier's outputs, a method name and known cost counters."""

    def fault(problem: str) -> CheckpointError:
        return CheckpointError(
            f"{where} is not a valid explanation ({problem}); it was edited or written by "
            "something else. Re-create it with `leapfactual explain`."
        )

    missing = [k for k in REQUIRED if k not in tensors]
    extra = sorted(set(tensors) - set(TENSOR_FIELDS))
    if missing or extra:
        raise fault(f"missing tensors {missing}" if missing else f"unknown tensors {extra}")
    if not isinstance(meta.get("method"), str):
        raise fault("no 'method' name")
    cost = meta.get("cost")
    names = {f.name for f in fields(Cost)}
    if not isinstance(cost, dict) or set(cost) - names:
        raise fault(f"'cost' must be an object with keys from {sorted(names)}")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in cost.values()):
        raise fault("'cost' counters must be numbers")
    if not isinstance(meta.get("config", {}), dict):
        raise fault("'config' must be an object")
    tolerance = meta.get("tolerance")
    if tolerance is not None and not isinstance(tolerance, int | float):
        raise fault("'tolerance' must be a number")
    rows = {k: v.shape[0] if v.dim() else None for k, v in tensors.items()}
    if len(set(rows.values())) != 1:
        raise fault(f"tensors have different numbers of rows: {rows}")
    if tensors["probs"].dim() != 2 or tensors["probs_cf"].shape != tensors["probs"].shape:
        raise fault("probs and probs_cf must both be [B, K]")
    if tolerance is None:
        k = tensors["probs"].shape[1]
        for name in ("source", "target"):
            value = tensors[name]
            if value.is_floating_point() or value.dim() != 1:
                raise fault(f"{name} must be a 1-D tensor of class indices")
            if value.numel() and (int(value.min()) < 0 or int(value.max()) >= k):
                raise fault(f"{name} has classes outside 0-{k - 1}")


def _as_index(index: Sequence[int] | Tensor) -> Tensor:
    """Row indices or a boolean mask as a CPU tensor that indexes ``arange(B)``."""
    rows = torch.as_tensor(index).cpu()
    if rows.dtype != torch.bool and (rows.is_floating_point() or rows.is_complex()):
        raise TypeError(f"index an Explanation with ints, a slice or a bool mask, not {rows.dtype}")
    return rows


def _cell(value: float | str) -> str:
    return value if isinstance(value, str) else f"{value:.4g}"


def _mean(values: Tensor) -> float:
    """The mean of ``values`` as a float (NaN for none)."""
    return float(values.float().mean()) if values.numel() else float("nan")
