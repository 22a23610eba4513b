"""Necessity of a counterfactual's changes, from the classifier's outputs only (docs/method.md §10).

For every CE ``x'`` of an input ``x`` the change is split into *parts*: global edits
(brightness, contrast, colour, blur; :mod:`~leapfactual.audit.edits`), where they carry a
real share of the change, and regions of the rest
(:func:`~leapfactual.audit.regions.change_regions`). Three things are measured:

- *drop* of a part: ``p_t(x') - p_t(x' with that part reverted)``, where ``p_t`` is the
  target probability: how much the classifier needs that part of the change. A region is
  reverted by putting its pixels back to ``x`` plus the global edits; an edit by subtracting
  its part from ``x'``.
- *needed edits*: for every global edit, whether ``x'`` with that edit's fitted part taken
  out (whatever its share of the change, counted or not; kept per pixel between ``x`` and
  ``x'``) leaves the target: the classifier's argmax is no longer the target. A cue such as
  a tint can hold a small share of a change that redraws the strokes and still be one the
  classifier cannot do without.
- *minimal sufficient change* (greedy): start from ``x`` and add whole parts in order of
  decreasing drop (ties: edits first, then lower region id) until the classifier's argmax is
  the target; those parts are the minimal change. If ``x`` is already classified as the
  target it is empty; if even all parts together fail, it is all of them and
  ``minimal_valid`` is False.
- *transition curve* (COUT, Khorram & Fuxin, CVPR 2022): insert the changed pixels of ``x'``
  into ``x`` in order of decreasing ``|x' - x|`` (summed over channels; ties: scan order) in
  ``steps`` equal steps (step ``k`` inserts the first ``ceil(k N / steps)`` of the ``N``
  changed pixels, so step 0 is ``x`` and the last is ``x'``), recording ``p_t`` and the
  source probability ``p_s``; COUT is the trapezoidal area under ``p_t - p_s`` over
  ``[0, 1]``, in ``[-1, 1]``.

An image of some parts is ``where(regions taken, x' - edits left out, x + edits taken)``,
kept per pixel between ``x`` and ``x'``. All variants are classified without gradients in
chunks of ``batch_size`` on the classifier's device; every image classified counts one in
``cost.classifier``. Results are on CPU.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from leapfactual._version import __version__
from leapfactual.audit.edits import EDITS, edit_parts, edits_for, split_change
from leapfactual.audit.regions import (
    DEFAULT_THRESHOLD,
    Mode,
    change_regions,
    check_pair,
    pixel_change,
)
from leapfactual.explain import (
    Cost,
    Outputs,
    Timer,
    as_probs,
    as_target,
    check_range,
    model_errors,
    module_device,
    module_dtype,
)
from leapfactual.io import CheckpointError, load_tensors, save_tensors
from leapfactual.models import Classifier, as_tensor_outputs

NECESSITY_TENSORS = (
    "regions",
    "count",
    "drop",
    "minimal",
    "minimal_valid",
    "curve",
    "curve_source",
    "cout",
    "p_cf",
    "source",
    "target",
    "edit_params",
    "edit_counts",
    "edit_drop",
    "minimal_edits",
    "edit_needed",
)


@dataclass
class Necessity:
    """Necessity of the changes of ``B`` counterfactuals (CPU tensors; ``R = max_regions``).

    Attributes:
        regions: region id of every pixel ``[B, H, W]`` int64, 0 = unchanged (regions of the
            change left once the global edits that count are taken out).
        count: regions per CE ``[B]``.
        drop: ``p_t(x') - p_t(x' with region r + 1 reverted)`` ``[B, R]``; NaN past ``count``.
        minimal: the regions of the greedy minimal sufficient change ``[B, R]``.
        minimal_valid: whether those parts alone reach the target ``[B]``.
        edit_params: each CE's fitted global-edit coefficients ``[B, 2C + 1]``
            (:func:`~leapfactual.audit.edits.fit_edits`).
        edit_counts: whether each global edit of ``config["edits"]`` counts in it ``[B, G]``.
        edit_drop: ``p_t(x') - p_t(x' without edit g)`` ``[B, G]``; NaN where it does not count.
        minimal_edits: the edits of the greedy minimal sufficient change ``[B, G]``.
        edit_needed: whether taking edit ``g``'s fitted part out of ``x'`` (counted or not)
            moves the argmax off the target ``[B, G]``.
        curve, curve_source: ``p_t`` and ``p_s`` along the insertion path ``[B, steps + 1]``.
        cout: normalised area under ``curve - curve_source`` ``[B]``, in ``[-1, 1]``.
        p_cf: ``p_t(x')`` ``[B]``.
        source, target: the classes compared ``[B]``.
        cost: classifier evaluations and wall time.
        config: the settings, for the record.
    """

    regions: Tensor
    count: Tensor
    drop: Tensor
    minimal: Tensor
    minimal_valid: Tensor
    curve: Tensor
    curve_source: Tensor
    cout: Tensor
    p_cf: Tensor
    source: Tensor
    target: Tensor
    edit_params: Tensor
    edit_counts: Tensor
    edit_drop: Tensor
    minimal_edits: Tensor
    edit_needed: Tensor
    cost: Cost = field(default_factory=Cost)
    config: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.count.shape[0])

    @property
    def edits(self) -> tuple[str, ...]:
        """The global edits measured, one per column of ``edit_drop``."""
        return tuple(self.config.get("edits", ()))

    def parts(self, x: Tensor, rows: Tensor | None = None) -> Tensor:
        """The global edits' parts of these CEs (or of those at ``rows``) on their inputs
        ``x`` ``[B, G, C, H, W]`` (zero where an edit does not count)."""
        at = slice(None) if rows is None else rows
        parts = edit_parts(x.detach().cpu(), self.edit_params[at], self.edits)
        return parts * self.edit_counts[at][:, :, None, None, None].to(parts.dtype)

    def most_needed(self) -> Tensor:
        """Each CE's most-needed part ``[B]``: ``g`` for global edit ``g``, ``G + r - 1`` for
        region ``r``, -1 for a CE without parts (ties: edits first, then lower ids)."""
        drops = torch.cat([self.edit_drop, self.drop], dim=1).nan_to_num(-torch.inf)
        has = (self.count > 0) | self.edit_counts.any(dim=1)
        return torch.where(has, drops.argmax(dim=1), -1)

    def compose(self, x: Tensor, x_cf: Tensor, regions: Tensor, edits: Tensor) -> Tensor:
        """Images made of some parts of each CE: the pixels of the ``regions`` ``[B, R]``
        taken from ``x_cf`` and the ``edits`` ``[B, G]`` taken (see the module docstring)."""
        table = torch.cat([torch.zeros(len(self), 1, dtype=torch.bool), regions.cpu()], dim=1)
        mask = table.gather(1, self.regions.flatten(1)).view(self.regions.shape)
        return _compose(x.cpu(), x_cf.cpu(), self.parts(x), mask, edits.cpu())

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``necessity.safetensors`` + ``necessity.json`` into ``directory``."""
        out = Path(directory)
        tensors = {k: getattr(self, k) for k in NECESSITY_TENSORS}
        meta = {
            "kind": "necessity",
            "cost": asdict(self.cost),
            "config": self.config,
            "leapfactual_version": __version__,
        }
        save_tensors(out / "necessity", tensors, meta)
        return out

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> Necessity:
        """Read a necessity audit written by :meth:`save`."""
        tensors, meta = load_tensors(Path(directory) / "necessity")
        if meta.get("kind") != "necessity" or set(tensors) != set(NECESSITY_TENSORS):
            raise CheckpointError(f"{directory} does not hold a necessity audit")
        return cls(cost=Cost(**meta["cost"]), config=meta.get("config", {}), **tensors)


def necessity_map(n: Necessity) -> Tensor:
    """Each pixel's region drop ``[B, 1, H, W]`` (0 for unchanged pixels)."""
    table = torch.cat([torch.zeros(len(n), 1), n.drop.float().nan_to_num(0.0)], dim=1)
    flat = table.gather(1, n.regions.flatten(1))
    return flat.view(n.regions.shape).unsqueeze(1)


Mask = Callable[[slice], Tensor]
"""For a slice of the jobs, which pixels take ``x'`` (True) rather than ``x``, ``[n, H, W]``."""


@dataclass
class _Run:
    """The classifier, the image pairs and the counters one audit shares."""

    classifier: Classifier
    outputs: Outputs
    x: Tensor
    x_cf: Tensor
    parts: Tensor
    batch_size: int
    cost: Cost

    def probs(
        self, ce: Tensor, mask: Mask, edits: Mask | None = None
    ) -> Iterator[tuple[slice, Tensor]]:
        """Probabilities of the blends ``where(mask, x'[ce], x[ce])``, or with ``edits`` (which
        global edits are taken, ``[n, G]``) of :func:`_compose`, chunk by chunk (CPU)."""
        device = module_device(self.classifier) or self.x.device
        dtype = module_dtype(self.classifier) or self.x.dtype
        for start in range(0, ce.numel(), self.batch_size):
            part = slice(start, start + self.batch_size)
            idx = ce[part].to(self.x.device)
            keep = mask(part).to(device)
            x, x_cf = self.x[idx].to(device, dtype), self.x_cf[idx].to(device, dtype)
            if edits is None:
                images = torch.where(keep.unsqueeze(1), x_cf, x)
            else:
                parts = self.parts[ce[part]].to(device, dtype)
                images = _compose(x, x_cf, parts, keep, edits(part).to(device))
            self.cost.classifier += images.shape[0]
            with torch.no_grad(), model_errors("classifier", images):
                out = as_tensor_outputs(self.classifier(images))
            yield part, as_probs(out, self.outputs).cpu()

    def pick(
        self, ce: Tensor, mask: Mask, classes: Tensor, edits: Mask | None = None
    ) -> tuple[Tensor, Tensor]:
        """Probabilities of ``classes [N, m]`` per blend, and the predicted class ``[N]``."""
        picked = torch.empty(classes.shape)
        pred = torch.empty(ce.numel(), dtype=torch.long)
        for part, p in self.probs(ce, mask, edits):
            picked[part] = p.gather(1, classes[part])
            pred[part] = p.argmax(dim=1)
        return picked, pred


def _compose(x: Tensor, x_cf: Tensor, parts: Tensor, mask: Tensor, edits: Tensor) -> Tensor:
    """``where(mask, x_cf - edits left out, x + edits taken)``, kept per pixel between ``x``
    and ``x_cf`` (``parts [n, G, C, H, W]``, ``mask [n, H, W]``, ``edits [n, G]`` bool)."""
    taken = (parts * edits[:, :, None, None, None].to(parts.dtype)).sum(dim=1)
    left = parts.sum(dim=1) - taken
    images = torch.where(mask.unsqueeze(1), x_cf - left, x + taken)
    return torch.minimum(torch.maximum(images, torch.minimum(x, x_cf)), torch.maximum(x, x_cf))


def _jobs(counts: Tensor) -> tuple[Tensor, Tensor]:
    """For ``counts [B]``: the CE of every job and its number 1..count within its CE."""
    ce = torch.arange(counts.numel()).repeat_interleave(counts)
    first = torch.cumsum(counts, 0) - counts
    return ce, torch.arange(ce.numel()) - first[ce] + 1


def _insertion_ranks(x: Tensor, x_cf: Tensor) -> tuple[Tensor, Tensor]:
    """Each pixel's place in the insertion order ``[B, H, W]`` and the changed pixels ``[B]``."""
    change = pixel_change(x, x_cf)
    flat = change.flatten(1)
    order = torch.sort(flat, dim=1, descending=True, stable=True).indices
    ranks = torch.empty_like(order).scatter_(1, order, torch.arange(flat.shape[1]).expand_as(order))
    return ranks.view_as(change), (flat > 0).sum(dim=1)


def _check_settings(outputs: Outputs, steps: int, batch_size: int, max_regions: int) -> None:
    as_probs(torch.full((1, 2), 0.5), outputs)  # an unknown kind is refused
    for name, value in (("steps", steps), ("batch_size", batch_size), ("max_regions", max_regions)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")


def _check_classes(classes: Tensor, num_classes: int, name: str) -> None:
    if classes.min() < 0 or classes.max() >= num_classes:
        raise ValueError(
            f"{name} classes must lie in [0, {num_classes - 1}] (the classifier has "
            f"{num_classes} outputs); got {sorted(set(classes.tolist()))[:10]}"
        )


def _curve(run: _Run, ranks: Tensor, changed: Tensor, classes: Tensor, steps: int) -> Tensor:
    """``[p_t, p_s]`` at insertion steps 1..steps, ``[B, steps, 2]``."""
    ce, k = _jobs(torch.full_like(changed, steps))
    limit = (k * changed[ce] + steps - 1) // steps
    picked, _ = run.pick(ce, lambda s: ranks[ce[s]] < limit[s, None, None], classes[ce])
    return picked.view(-1, steps, 2)


def _drops(
    run: _Run,
    regions: Tensor,
    count: Tensor,
    counts: Tensor,
    target: Tensor,
    p_cf: Tensor,
    width: int,
) -> tuple[Tensor, Tensor]:
    """``p_t(x') - p_t(x' with region r reverted)`` ``[B, width]``, NaN past ``count``, and
    ``p_t(x') - p_t(x' without edit g)`` ``[B, G]``, NaN where ``g`` does not count."""
    ce, rid = _jobs(count)
    edits = None if not counts.shape[1] else (lambda s: counts[ce[s]])
    picked, _ = run.pick(
        ce, lambda s: regions[ce[s]] != rid[s, None, None], target[ce, None], edits
    )
    drop = torch.full((count.numel(), width), float("nan"))
    drop[ce, rid - 1] = p_cf[ce] - picked[:, 0]
    rows, cols = counts.nonzero(as_tuple=True)
    edit_drop = torch.full(counts.shape, float("nan"))
    if len(rows):
        everything = torch.ones(1, *regions.shape[1:], dtype=torch.bool)
        without = counts[rows].clone()
        without[torch.arange(len(rows)), cols] = False
        picked, _ = run.pick(
            rows, lambda s: everything.expand(len(rows[s]), -1, -1), target[rows, None],
            lambda s: without[s],
        )  # fmt: skip
        edit_drop[rows, cols] = p_cf[rows] - picked[:, 0]
    return drop, edit_drop


def _edit_needed(run: _Run, parts: Tensor, target: Tensor) -> Tensor:
    """Whether ``x'`` without each edit's part ``parts [B, G, C, H, W]`` (every fitted edit,
    counted or not) leaves the target ``[B, G]``."""
    batch, g = parts.shape[:2]
    if not g:
        return torch.zeros(batch, 0, dtype=torch.bool)
    ce, k = _jobs(torch.full((batch,), g))
    without = torch.ones(len(ce), g, dtype=torch.bool)
    without[torch.arange(len(ce)), k - 1] = False
    every = torch.ones(1, *run.x.shape[2:], dtype=torch.bool)
    full = _Run(run.classifier, run.outputs, run.x, run.x_cf, parts, run.batch_size, run.cost)
    _, pred = full.pick(
        ce, lambda s: every.expand(len(ce[s]), -1, -1), target[ce, None], lambda s: without[s]
    )
    return (pred != target[ce]).view(batch, g)


def _minimal(
    run: _Run,
    regions: Tensor,
    count: Tensor,
    drop: Tensor,
    edit_drop: Tensor,
    target: Tensor,
    reached: Tensor,
) -> tuple[Tensor, Tensor, Tensor]:
    """The greedy minimal sufficient change (its regions ``[B, R]``, its edits ``[B, G]``) and
    whether it reaches the target; CEs whose input already ``reached`` the target need no
    part and no evaluation. Parts are added by decreasing drop (ties: edits first)."""
    g = edit_drop.shape[1]
    both = torch.cat([edit_drop, drop], dim=1)
    batch, width = both.shape
    order = torch.sort(both.nan_to_num(-torch.inf), dim=1, descending=True, stable=True).indices
    position = torch.empty_like(order).scatter_(1, order, torch.arange(width).expand_as(order))
    table = torch.cat([torch.full((batch, 1), width), position[:, g:]], dim=1)
    parts = count + (~edit_drop.isnan()).sum(dim=1)
    ce, k = _jobs(torch.where(reached, 0, parts))

    def added(s: slice) -> Tensor:
        idx = ce[s]
        return (
            table[idx].gather(1, regions[idx].flatten(1)).view_as(regions[idx]) < k[s, None, None]
        )

    edits = None if not g else (lambda s: position[ce[s], :g] < k[s, None])
    _, pred = run.pick(ce, added, target[ce, None], edits)
    first = torch.full((batch,), width + 1).scatter_reduce(
        0, ce, torch.where(pred == target[ce], k, width + 1), "amin"
    )
    size = torch.where(reached, 0, first)
    valid = size <= parts
    chosen = position < torch.where(valid, size, parts)[:, None]
    return chosen[:, g:], chosen[:, :g], valid


def necessity(
    classifier: Classifier,
    x: Tensor,
    x_cf: Tensor,
    target: int | Tensor,
    source: int | Tensor | None = None,
    *,
    regions: Mode = "components",
    threshold: float = DEFAULT_THRESHOLD,
    grid: int = 4,
    steps: int = 20,
    outputs: Outputs = "logits",
    batch_size: int = 256,
    max_regions: int = 16,
    edits: Sequence[str] = EDITS,
) -> Necessity:
    """Audit which changes of the counterfactuals ``x_cf`` of ``x`` the classifier needs.

    ``target`` (and ``source``, default: the classifier's label of ``x``) are one class or one
    per CE. ``edits``: the global edits to take out of each change first (``()``: none;
    ``colour`` is skipped for grey images); ``regions``, ``threshold``, ``grid`` and
    ``max_regions`` split the rest (:func:`~leapfactual.audit.regions.change_regions`);
    ``steps`` sets the transition curve. Costs ``B * (steps + 1 + G)`` evaluations plus one
    per part, and up to one per part for the greedy search. Definitions: the module docstring.
    """
    if not callable(classifier):
        raise ValueError("classifier must be callable: images [B, C, H, W] -> outputs [B, K]")
    check_pair(x, x_cf)
    _check_settings(outputs, steps, batch_size, max_regions)
    check_range(x, {"classifier": classifier})
    check_range(x_cf, {"classifier": classifier})
    names = edits_for(x.shape[1], edits)
    batch = x.shape[0]
    targets = as_target(target, batch)
    cost = Cost(n=batch)
    with Timer(cost):
        params, parts, counts, rest = split_change(x, x_cf, names)
        run = _Run(classifier, outputs, x.detach(), x_cf.detach(), parts, batch_size, cost)
        region_map = change_regions(
            x.detach().cpu(), x.detach().cpu() + rest, regions, threshold, grid, max_regions
        )
        count = region_map.flatten(1).amax(dim=1)
        ranks, changed = _insertion_ranks(x, x_cf)
        inputs = run.probs(
            torch.arange(batch), lambda s: torch.zeros_like(ranks[s], dtype=torch.bool)
        )
        start = torch.cat([p for _, p in inputs])
        label = start.argmax(dim=1)
        _check_classes(targets, start.shape[1], "target")
        sources = label if source is None else as_target(source, batch)
        _check_classes(sources, start.shape[1], "source")
        classes = torch.stack([targets, sources], dim=1)
        steps_probs = _curve(run, ranks, changed, classes, steps)
        curve = torch.cat([start.gather(1, classes).unsqueeze(1), steps_probs], dim=1)
        p_cf = curve[:, -1, 0]
        drop, edit_drop = _drops(run, region_map, count, counts, targets, p_cf, max_regions)
        minimal, minimal_edits, minimal_valid = _minimal(
            run, region_map, count, drop, edit_drop, targets, label == targets
        )
        needed = _edit_needed(run, edit_parts(x.detach().cpu(), params, names), targets)
    config = {
        "edits": list(names),
        "regions": regions,
        "threshold": threshold,
        "grid": grid,
        "steps": steps,
        "outputs": outputs,
        "max_regions": max_regions,
    }
    return Necessity(
        regions=region_map,
        count=count,
        drop=drop,
        minimal=minimal,
        minimal_valid=minimal_valid,
        curve=curve[..., 0].contiguous(),
        curve_source=curve[..., 1].contiguous(),
        cout=torch.trapezoid(curve[..., 0] - curve[..., 1], dx=1 / steps, dim=1),
        p_cf=p_cf,
        source=sources,
        target=targets,
        edit_params=params,
        edit_counts=counts,
        edit_drop=edit_drop,
        minimal_edits=minimal_edits,
        edit_needed=needed,
        cost=cost,
        config=config,
    )


__all__ = ["Necessity", "necessity", "necessity_map"]
