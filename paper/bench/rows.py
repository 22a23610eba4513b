"""Row functions: each maps one method's CEs (and the context) to named table cells."""

from __future__ import annotations

from leapfactual.metrics import (
    auroc,
    cost_per_ce,
    kid,
    morphometric_change,
    oracle_validity,
    proximity,
    robustness,
    sfid,
    validity,
)
from leapfactual.metrics import fid as fid_metric
from paper.bench.runner import BenchContext, Column
from paper.bench.table import Cell


def classification_rows(col: Column, ctx: BenchContext) -> dict[str, Cell]:
    """Accuracy to target and AUROC under the explained model; robust validity (the target
    kept after a codec round trip, a slight blur and slight noise) given the classifier;
    oracle validity if given."""
    out: dict[str, Cell] = {
        "accuracy to target": validity(col.probs_cf, ctx.target),
        "AUROC": auroc(col.probs_cf, ctx.target),
    }
    if ctx.classifier is not None:
        kept = robustness(
            ctx.classifier, col.x_cf, ctx.target, codec=ctx.codec, outputs=ctx.outputs
        )
        out["robust validity"] = kept.summary()["robust_validity"]
    if ctx.oracle is not None:
        out["oracle validity"] = oracle_validity(ctx.oracle, col.x_cf, ctx.target)
    return out


def morphometric_rows(col: Column, ctx: BenchContext) -> dict[str, Cell]:
    """Relative change of the six Morpho-MNIST measurements vs ``x_ref`` (mean ± SEM)."""
    ref = ctx.x_ref if ctx.x_ref is not None else ctx.x
    return dict(morphometric_change(col.x_cf, ref).items())


def proximity_rows(col: Column, ctx: BenchContext) -> dict[str, Cell]:
    """L1, L2, SSIM and PSNR between CE and input."""
    names = {"l1": "L1", "l2": "L2", "ssim": "SSIM", "psnr": "PSNR"}
    return {f"{names[k]} to input": v for k, v in proximity(col.x_cf, ctx.x).items()}


def realism_rows(col: Column, ctx: BenchContext) -> dict[str, Cell]:
    """FID, KID and split-half sFID against real images, on ``ctx.features``."""
    if ctx.features is None:
        return {}
    real = ctx.real if ctx.real is not None else ctx.x
    kid_mean, _ = kid(real, col.x_cf, ctx.features, subset_size=min(1000, len(col.x_cf)))
    out: dict[str, Cell] = {
        "FID": fid_metric(real, col.x_cf, ctx.features),
        "KID": kid_mean,
    }
    if ctx.real is None:  # CEs come from these very images: split-half sFID applies
        out["sFID"] = sfid(real, col.x_cf, ctx.features)
    return out


def cost_rows(col: Column, ctx: BenchContext) -> dict[str, Cell]:
    """Seconds and network evaluations per CE."""
    per = cost_per_ce(col.cost)
    return {
        "seconds per CE": per["seconds"],
        "network evaluations per CE": per["network_evaluations"],
        "gradient steps per CE": per["gradient_steps"],
    }
