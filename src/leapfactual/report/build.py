"""Assemble a :class:`Report` from explanations and a run's summary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from leapfactual.explain.explanation import Explanation
from leapfactual.report.grid import source_target_grid
from leapfactual.report.html import Report


def headline(exp: Explanation) -> dict[str, float]:
    """Validity of CEs (and reliable CEs), and time and evaluations per CE."""
    per = exp.cost.per_ce()
    out = {
        "n": float(len(exp)),
        "validity": float(exp.valid.float().mean()),
        "seconds_per_ce": per["seconds"],
        "decoder_evals_per_ce": per["decoder"],
        "classifier_evals_per_ce": per["classifier"],
        "field_evals_per_ce": per["field"],
    }
    if exp.valid_reliable is not None:
        out["validity_reliable"] = float(exp.valid_reliable.float().mean())
    if exp.steps is not None:
        out["mean_leaps"] = float(exp.steps.float().mean())
    return out


RANGE_SLACK = 1e-4


def check_drawable(exp: Explanation) -> None:
    """Raise a specific ``ValueError`` unless the explanation's images can be drawn: float
    ``[B, C, H, W]`` with 1 (grey) or 3 (RGB) channels, finite, in [0, 1]."""
    for name in ("x", "x_cf", "x_reliable"):
        images = getattr(exp, name)
        if images is None:
            continue
        if images.dim() != 4 or images.shape[1] not in (1, 3):
            raise ValueError(
                f"the explanation's {name} has shape {tuple(images.shape)}; a report draws "
                "images [B, C, H, W] with C = 1 (grey) or 3 (RGB). Explain images of that "
                "shape, or reshape them before saving."
            )
        if not images.is_floating_point():
            raise ValueError(
                f"the explanation's {name} has dtype {images.dtype}; a report draws float "
                "images in [0, 1]. Explain x.float() / 255 instead of uint8 images."
            )
        if not bool(images.isfinite().all()):
            raise ValueError(
                f"the explanation's {name} contains NaN or Inf values; it cannot be drawn. "
                "Re-create the explanation from finite inputs."
            )
        low, high = float(images.min()), float(images.max())
        if low < -RANGE_SLACK or high > 1 + RANGE_SLACK:
            raise ValueError(
                f"the explanation's {name} has values in [{low:.4g}, {high:.4g}]; a report "
                "draws images in [0, 1]. Map them to [0, 1] (e.g. (x + 1) / 2 for [-1, 1] "
                "images) before saving the explanation."
            )


def build_report(
    exp: Explanation,
    class_names: Sequence[str],
    title: str,
    subtitle: str = "",
    run_summary: dict[str, Any] | None = None,
    grid: Explanation | None = None,
    notes: Sequence[str] = (),
    max_samples: int = 12,
) -> Report:
    """A report on ``exp`` with headline cards, a settings table and optionally a grid.

    The run's fit warnings recorded in the explanation (``exp.config["warnings"]``) are
    shown under the headline numbers, next to the validity they qualify.
    """
    check_drawable(exp)
    nums = headline(exp)
    cards = [(f"{nums['validity']:.1%}", "CE validity (classifier says target)")]
    if "validity_reliable" in nums:
        cards.append((f"{nums['validity_reliable']:.1%}", "reliable CE validity"))
    cards += [
        (f"{nums['seconds_per_ce'] * 1000:.1f} ms", "wall time per CE"),
        (f"{len(exp):,}", "counterfactuals"),
    ]
    summary = [(k.replace("_", " "), _fmt(v)) for k, v in (run_summary or {}).items()]
    summary.append(("explainer", exp.method))
    for key in ("blend", "inject", "solver", "condition"):
        if key in exp.config:
            summary.append((key, _fmt(exp.config[key])))
    summary += [
        (
            "evaluations per CE",
            f"decoder {nums['decoder_evals_per_ce']:.1f}, classifier "
            f"{nums['classifier_evals_per_ce']:.1f}, flow field {nums['field_evals_per_ce']:.0f}",
        ),
    ]
    if "mean_leaps" in nums:
        summary.append(("leaps per CE (mean)", f"{nums['mean_leaps']:.1f}"))
    num_classes = exp.probs.shape[1]
    return Report(
        title=title,
        subtitle=subtitle,
        explanation=exp,
        class_names=list(class_names),
        summary=summary,
        cards=cards,
        grid=source_target_grid(grid, num_classes) if grid is not None else None,
        grid_sources=grid.source[:: num_classes - 1].tolist() if grid is not None else (),
        warnings=[str(w) for w in exp.config.get("warnings") or []],
        notes=list(notes),
        max_samples=max_samples,
    )


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_fmt(v)}" for k, v in value.items())
    return str(value)
