"""Assemble a :class:`Report` from explanations and a run's summary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

from leapfactual.explain import AttributeProbes, Explanation, attribute_attributions
from leapfactual.metrics import collapsed
from leapfactual.models import as_tensor_outputs
from leapfactual.pipeline import (
    Run,
    Verdict,
    fit_summary,
    model_device,
    predict_probs,
    verdict_headline,
)
from leapfactual.report.grid import source_target_grid
from leapfactual.report.html import SHOWN, THUMB, Report, check_thumb_size
from leapfactual.report.sections import Decode, decode_trajectory, leap_curves, select_samples


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


def check_trajectories(exp: Explanation, decode: Decode | None = None) -> None:
    """Raise a specific ``ValueError`` unless the explanation's trajectories fit its inputs:
    kept images of the inputs' shape, probabilities of its classes, and latents that
    ``decode`` (the run's codec) turns into images of the inputs' shape (one is decoded)."""
    shape = tuple(exp.x.shape[1:])
    images = exp.trajectory_images
    if images is not None and (images.dim() != 5 or tuple(images.shape[2:]) != shape):
        raise ValueError(
            f"the explanation's trajectory_images have shape {tuple(images.shape)}, but its "
            f"inputs are images {shape}: the two were not made together. Re-create the "
            "explanation with `leapfactual explain`"
        )
    probs = exp.trajectory_probs
    if probs is not None and (probs.dim() != 3 or probs.shape[2] != exp.probs.shape[1]):
        raise ValueError(
            f"the explanation's trajectory_probs have shape {tuple(probs.shape)}, but it has "
            f"{exp.probs.shape[1]} classes: [B, T + 1, {exp.probs.shape[1]}] expected. "
            "Re-create the explanation with `leapfactual explain`"
        )
    if images is None and exp.trajectory is not None and decode is not None and len(exp):
        try:
            with torch.no_grad():
                decoded = tuple(decode(exp.trajectory[0, :1]).shape[1:])
        except (RuntimeError, ValueError) as err:
            raise ValueError(
                f"the run's codec cannot decode the explanation's latent trajectory ("
                f"{' '.join(str(err).split())[:160]}): the explanation was made with another "
                "run; give that one (--run RUN)"
            ) from err
        if decoded != shape:
            raise ValueError(
                f"the run's codec decodes the explanation's latent trajectory to images "
                f"{decoded}, but its inputs are images {shape}: the explanation was made with "
                "another run; give that one (--run RUN)"
            )


def build_report(
    exp: Explanation,
    class_names: Sequence[str],
    title: str,
    subtitle: str = "",
    run_summary: dict[str, Any] | None = None,
    grid: Explanation | None = None,
    grid_labels: Tensor | None = None,
    notes: Sequence[str] = (),
    samples: int = SHOWN,
    order: str = "failures",
    seed: int = 0,
    run: Run | None = None,
    probes: AttributeProbes | None = None,
    thumb_size: int = THUMB,
) -> Report:
    """A report on ``exp``: headline cards, the summary, the validity matrix, the failures,
    the per-leap curves, ``samples`` cards picked by ``order`` (see
    :func:`~leapfactual.report.sections.select_samples`, seeded by ``seed``), and the list
    of all CEs; optionally the source x target ``grid`` (an explanation of S inputs toward
    every other class, placed by ``grid_labels``, their true labels, when given) and the
    global attributions of attribute ``probes``.

    ``run``: the run the CEs come from. Its codec decodes the latent trajectories of the
    shown cards (and, batch by batch, of all CEs for the curves) when the explanation keeps
    latents but not images; its oracle, if fitted, gives oracle validity. The run's fit
    warnings recorded in the explanation (``exp.config["warnings"]``) are shown under the
    headline numbers, next to the validity they qualify. The run's verdict
    (``exp.config["verdict"]``, else ``run``'s) is the page's first line, before any validity;
    with ``run`` and no ``run_summary``, the summary starts with the run's fit
    (:func:`~leapfactual.pipeline.fit_summary`). ``thumb_size``: the height in pixels of the
    thumbnails of the failures and the list of all CEs (8 to 512).
    """
    check_drawable(exp)
    check_thumb_size(thumb_size)
    if run_summary is None and isinstance(run, Run):
        run_summary = fit_summary(run)
    decode = _decoder(run)
    check_trajectories(exp, decode)
    nums = headline(exp)
    oracle_valid = _oracle_valid(run, exp)
    cards = [(f"{nums['validity']:.1%}", "CE validity (classifier says target)")]
    if exp.robust is not None:
        robust = float(exp.robust.float().mean()) if len(exp) else float("nan")
        cards.append((f"{robust:.1%}", "robust validity (kept after round trip, blur, noise)"))
    if "validity_reliable" in nums:
        cards.append((f"{nums['validity_reliable']:.1%}", "reliable CE validity"))
    if oracle_valid is not None:
        cards.append((f"{float(oracle_valid.float().mean()):.1%}", "oracle validity"))
    cards += [
        (f"{nums['seconds_per_ce'] * 1000:.1f} ms", "wall time per CE"),
        (f"{len(exp):,}", "counterfactuals"),
    ]
    summary = [(k.replace("_", " "), _fmt(v)) for k, v in (run_summary or {}).items()]
    if len(exp) > 1 and exp.tolerance is None:
        share = float(collapsed(exp.x_cf, exp.x, exp.target).float().mean())
        summary.append(("CEs nearly one image with another input's CE (collapsed)", f"{share:.0%}"))
    summary.append(("explainer", exp.method))
    if "inputs" in exp.config:
        inputs = exp.config["inputs"]
        summary.append(
            ("inputs", f"{len(set(inputs))} image files" if isinstance(inputs, list) else inputs)
        )
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
    shown = select_samples(exp, samples, order, seed)
    strips = {}
    if exp.trajectory_images is None and exp.trajectory is not None and decode is not None:
        strips = {i: decode_trajectory(exp, i, decode) for i in shown}
    num_classes = exp.probs.shape[1]
    grid_rows = grid.source[:: num_classes - 1] if grid is not None else None
    return Report(
        title=title,
        subtitle=subtitle,
        explanation=exp,
        class_names=list(class_names),
        summary=summary,
        cards=cards,
        grid=source_target_grid(grid, num_classes, grid_labels) if grid is not None else None,
        grid_labels=(grid_labels if grid_labels is not None else grid_rows).tolist()
        if grid_rows is not None
        else (),
        grid_predicted=grid_rows.tolist() if grid_rows is not None else (),
        warnings=[str(w) for w in exp.config.get("warnings") or []],
        verdict=_verdict_line(exp, run),
        notes=list(notes),
        shown=shown,
        shown_note=f"{len(shown)} of {len(exp)} CEs, chosen {ORDER_WORDS[order]}.",
        strips=strips,
        curves=leap_curves(exp, decode, seed),
        oracle_valid=oracle_valid,
        attributions=_attributions(exp, probes),
        thumb_size=thumb_size,
    )


ORDER_WORDS = {
    "failures": "failures first",
    "random": "at random (seeded)",
    "per-class": "one source class after another",
    "first": "in order",
}


def _verdict_line(exp: Explanation, run: Run | None) -> str:
    """The verdict of the run the CEs come from, in one line ("" for CEs made outside a
    run, which have none)."""
    if "verdict" in exp.config:
        stored = exp.config["verdict"]
        return verdict_headline(None if stored is None else Verdict.from_dict(stored))
    return verdict_headline(run.verdict) if isinstance(run, Run) else ""


@runtime_checkable
class Decoder(Protocol):
    """What a run's latent trajectories are drawn with: a codec's ``decode``."""

    def decode(self, z: Tensor) -> Tensor: ...


def _decoder(run: Run | None) -> Decode | None:
    codec = None if run is None else run.vae
    if not isinstance(codec, Decoder):  # no codec fitted yet
        return None
    device = model_device(codec)

    def decode(z: Tensor) -> Tensor:
        return as_tensor_outputs(codec.decode(z.to(device)), "codec.decode").cpu()

    return decode


def _oracle_valid(run: Run | None, exp: Explanation) -> Tensor | None:
    if run is None or run.oracle is None:
        return None
    probs = predict_probs(run.oracle, exp.x_cf)
    return probs.argmax(1) == exp.target.cpu()


def _attributions(exp: Explanation, probes: AttributeProbes | None) -> dict[str, float] | None:
    if probes is None:
        return None
    if exp.z is None or exp.z_cf is None:
        raise ValueError(
            f"attribute attributions need latents; {exp.method} explanations have no z / z_cf"
        )
    if not exp.valid.any():
        return None
    return attribute_attributions(probes, exp.z, exp.z_cf, valid=exp.valid).as_dict()


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_fmt(v)}" for k, v in value.items())
    return str(value)
