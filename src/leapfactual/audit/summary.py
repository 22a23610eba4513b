"""Global summaries of many counterfactuals per (source, target) pair.

Per pair, averages are taken over the *valid* CEs (those the classifier puts in their target,
``Explanation.valid``, as in Counterfactual Attacks' global scores): the mean signed change
``x' - x``, the mean necessity map, the grid cells the classifier needs most (cells of a
``grid`` x ``grid`` partition ranked by the mean necessity of their pixels, comparable across
CEs whatever their regions), the mean COUT, the share of CEs whose greedy minimal change is a
strict subset of their regions, and, with attribute probes and latents, the global attribute
attributions. A pair without valid CEs gets NaN averages and no cells.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from leapfactual.audit.necessity import Necessity, necessity_map
from leapfactual.audit.regions import grid_cells
from leapfactual.explain import AttributeProbes, Explanation, attribute_attributions


@dataclass(frozen=True)
class Cell:
    """One cell of the summary grid: ``row``, ``col`` and the mean necessity of its pixels."""

    row: int
    col: int
    necessity: float


@dataclass(frozen=True)
class PairSummary:
    """What the CEs from ``source`` to ``target`` changed and which of it was needed.

    Attributes:
        source, target: the pair.
        count: CEs of the pair; ``valid``: how many reached the target.
        mean_change: mean signed change ``x' - x`` of the valid CEs ``[C, H, W]``.
        mean_necessity: mean :func:`necessity_map` of the valid CEs ``[1, H, W]``.
        most_needed: the ``top`` grid cells of highest mean necessity, best first.
        mean_cout: mean COUT of the valid CEs.
        minimal_smaller: share of valid CEs whose minimal sufficient change was found and
            leaves out at least one region.
        attributions: global attribute importances by name (None without probes).
    """

    source: int
    target: int
    count: int
    valid: int
    mean_change: Tensor
    mean_necessity: Tensor
    most_needed: tuple[Cell, ...]
    mean_cout: float
    minimal_smaller: float
    attributions: dict[str, float] | None = None

    @property
    def validity(self) -> float:
        """Share of the pair's CEs that reached the target."""
        return self.valid / self.count


def _check(exp: Explanation, nec: Necessity, attributes: AttributeProbes | None) -> None:
    if len(exp) != len(nec) or exp.x.shape[-2:] != nec.regions.shape[-2:]:
        raise ValueError(
            f"the explanation has {len(exp)} CEs of size {tuple(exp.x.shape[-2:])} but the "
            f"necessity audit {len(nec)} of size {tuple(nec.regions.shape[-2:])}; audit the "
            "explanation's own x and x_cf"
        )
    same = torch.equal(exp.target.cpu(), nec.target) and torch.equal(exp.source.cpu(), nec.source)
    if not same:
        raise ValueError(
            "the explanation and the necessity audit disagree on source or target classes; "
            "audit with necessity(..., exp.x, exp.x_cf, exp.target, exp.source)"
        )
    if attributes is not None and (exp.z is None or exp.z_cf is None):
        raise ValueError(
            "attribute attributions need latents, but the explanation has no z / z_cf "
            "(pixel-space explainers have none)"
        )


def _most_needed(mean_necessity: Tensor, cells: Tensor, grid: int, top: int) -> tuple[Cell, ...]:
    """The ``top`` cells (``cells``: each pixel's, flat) by mean necessity (ties: row-major)."""
    if mean_necessity.isnan().any():
        return ()
    total = torch.zeros(grid * grid).index_add_(0, cells, mean_necessity.flatten().float())
    pooled = total / torch.bincount(cells, minlength=grid * grid)
    order = torch.sort(pooled, descending=True, stable=True).indices[:top]
    return tuple(Cell(int(i) // grid, int(i) % grid, float(pooled[i])) for i in order)


def _attributions(
    probes: AttributeProbes, exp: Explanation, rows: Tensor, valid: Tensor
) -> dict[str, float]:
    if not valid[rows].any():
        return {name: math.nan for name in probes.names}
    assert exp.z is not None and exp.z_cf is not None
    at = rows.to(exp.z.device)
    return attribute_attributions(probes, exp.z[at], exp.z_cf[at], valid=valid[rows]).as_dict()


def summarise(
    exp: Explanation,
    nec: Necessity,
    *,
    attributes: AttributeProbes | None = None,
    top: int = 3,
    grid: int = 4,
) -> list[PairSummary]:
    """One :class:`PairSummary` per (source, target) pair of ``exp``, sorted by the pair.

    ``nec`` is the audit of ``exp`` (:func:`~leapfactual.audit.necessity.necessity` on its
    ``x``, ``x_cf``, ``target`` and ``source``); ``attributes``: probes fitted on the
    explainer's latents, scored on ``exp.z`` / ``exp.z_cf``.
    """
    _check(exp, nec, attributes)
    if top < 1:
        raise ValueError(f"top must be positive, got {top}")
    cells = grid_cells(exp.x.shape[-2], exp.x.shape[-1], grid).flatten()
    change = (exp.x_cf.detach() - exp.x.detach()).float().cpu()
    maps = necessity_map(nec)
    valid = exp.valid.cpu()
    smaller = nec.minimal_valid & (nec.minimal.sum(dim=1) < nec.count)
    source, target = exp.source.cpu(), exp.target.cpu()
    out = []
    for s, t in sorted(set(zip(source.tolist(), target.tolist(), strict=True))):
        rows = (source == s) & (target == t)
        counted = rows & valid
        mean_necessity = maps[counted].mean(dim=0)
        out.append(
            PairSummary(
                source=s,
                target=t,
                count=int(rows.sum()),
                valid=int(counted.sum()),
                mean_change=change[counted].mean(dim=0),
                mean_necessity=mean_necessity,
                most_needed=_most_needed(mean_necessity, cells, grid, top),
                mean_cout=float(nec.cout[counted].mean()),
                minimal_smaller=float(smaller[counted].float().mean()),
                attributions=None
                if attributes is None
                else _attributions(attributes, exp, rows, valid),
            )
        )
    return out


def summary_table(summaries: Sequence[PairSummary]) -> list[dict[str, Any]]:
    """One JSON-ready row per pair: counts, validity, mean COUT, minimal-change share, the
    most-needed cells as ``"r0c0 0.91, ..."`` and one ``attr:NAME`` column per attribute."""
    rows = []
    for summary in summaries:
        row: dict[str, Any] = {
            "source": summary.source,
            "target": summary.target,
            "count": summary.count,
            "valid": summary.valid,
            "validity": summary.validity,
            "mean_cout": summary.mean_cout,
            "minimal_smaller": summary.minimal_smaller,
            "most_needed": ", ".join(
                f"r{c.row}c{c.col} {c.necessity:.3f}" for c in summary.most_needed
            ),
        }
        for name, value in (summary.attributions or {}).items():
            row[f"attr:{name}"] = value
        rows.append(row)
    return rows


__all__ = ["Cell", "PairSummary", "summarise", "summary_table"]
