"""Do the counterfactuals look like real data? FID, KID and split-half sFID.

All three compare feature statistics of two image sets. The Inception network of the
original FID cannot be downloaded here, so the caller supplies the feature network (for
instance the penultimate layer of a classifier trained on the same data); values are only
comparable under the same feature network.

The ``*_distance`` functions work on feature matrices ``[N, F]``; :func:`fid`, :func:`kid` and
:func:`sfid` take images and a feature callable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from scipy import linalg
from torch import Tensor

from leapfactual.metrics._checks import as_tensor, check_mask, device_of

Features = Callable[[Tensor], Tensor]


def extract_features(feature_fn: Features, images: Any, batch_size: int = 256) -> np.ndarray:
    """``feature_fn`` applied ``batch_size`` images at a time without gradients (on its
    device when it is a module), flattened to a float64 ``[N, F]`` array."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    x = images.detach() if isinstance(images, Tensor) else as_tensor(images, "images").float()
    device = device_of(feature_fn)
    parts = []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            batch = x[start : start + batch_size]
            out = feature_fn(batch if device is None else batch.to(device))
            if not isinstance(out, Tensor) or out.shape[0] != len(batch):
                shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
                raise ValueError(f"the feature network must return [B, ...] features, got {shape}")
            parts.append(out.detach().flatten(1).double().cpu().numpy())
    if not parts:
        raise ValueError("cannot extract features of an empty image set")
    return np.concatenate(parts)


def _features(values: Any, name: str) -> np.ndarray:
    f = np.asarray(values.detach().cpu() if isinstance(values, Tensor) else values, np.float64)
    if f.ndim != 2:
        raise ValueError(f"{name} must be a feature matrix [N, F], got shape {f.shape}")
    if f.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 samples, got {f.shape[0]}")
    if not np.all(np.isfinite(f)):
        raise ValueError(f"{name} contains NaN or inf")
    return f


def frechet_distance(features_a: Any, features_b: Any) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets:
    ``||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` (sample covariances; the
    matrix square root by ``scipy.linalg.sqrtm``, its imaginary round-off dropped). 0 for
    identical sets."""
    a, b = _features(features_a, "features_a"), _features(features_b, "features_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sizes differ: {a.shape[1]} and {b.shape[1]}")
    mu = a.mean(axis=0) - b.mean(axis=0)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    root = linalg.sqrtm(cov_a @ cov_b)
    if not np.all(np.isfinite(root)):
        # singular product: regularise, as the reference FID implementation does
        eps = 1e-6 * np.eye(len(cov_a))
        root = linalg.sqrtm((cov_a + eps) @ (cov_b + eps))
    trace = np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(np.real(root))
    return float(max(mu @ mu + trace, 0.0))


def kernel_distance(
    features_a: Any,
    features_b: Any,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """Kernel (Inception) distance: unbiased MMD^2 with the polynomial kernel
    ``k(x, y) = (x . y / F + 1)^3``, averaged over ``subsets`` random subsets of
    ``min(subset_size, N_a, N_b)`` samples from each set. Returns (mean, std) over subsets.
    About 0 (either sign) for sets from one distribution."""
    a, b = _features(features_a, "features_a"), _features(features_b, "features_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sizes differ: {a.shape[1]} and {b.shape[1]}")
    if subsets < 1:
        raise ValueError(f"subsets must be positive, got {subsets}")
    m = min(subset_size, len(a), len(b))
    if m < 2:
        raise ValueError(f"subset_size must be at least 2, got {subset_size}")
    rng = np.random.default_rng(seed)
    dim = a.shape[1]
    values = np.empty(subsets)
    for i in range(subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        kxx = (x @ x.T / dim + 1) ** 3
        kyy = (y @ y.T / dim + 1) ** 3
        kxy = (x @ y.T / dim + 1) ** 3
        within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        values[i] = within - 2.0 * kxy.mean()
    return float(values.mean()), float(values.std())


def split_frechet_distance(
    features_real: Any,
    features_cf: Any,
    source_index: Any = None,
    mask: Any = None,
    splits: int = 1,
    seed: int = 0,
) -> float:
    """Split-half FID (sFID): no CE is compared with its own source.

    The real samples are split at random into halves A and B; each CE belongs to the half of
    its source (``source_index[j]``: row of ``features_real`` that CE ``j`` was made from;
    default: CE ``j`` from real ``j``). sFID is the mean of FID(real A, CEs from B) and
    FID(real B, CEs from A), averaged over ``splits`` random splits. ``mask`` keeps only
    some CEs (the valid ones, in the DiME/ACE tradition); the real halves stay whole.
    """
    real = _features(features_real, "features_real")
    cf = _features(features_cf, "features_cf")
    if splits < 1:
        raise ValueError(f"splits must be positive, got {splits}")
    if source_index is None:
        if len(cf) != len(real):
            raise ValueError(
                f"{len(cf)} CEs for {len(real)} real samples: pass source_index to say which "
                "real sample each CE comes from"
            )
        source = np.arange(len(cf))
    else:
        source = as_tensor(source_index, "source_index").long().numpy()
        if source.shape != (len(cf),):
            raise ValueError(f"source_index must have shape [{len(cf)}], got {source.shape}")
        if source.min() < 0 or source.max() >= len(real):
            raise ValueError(f"source_index must lie in [0, {len(real)})")
    keep = check_mask(mask, len(cf))
    kept = np.ones(len(cf), bool) if keep is None else keep.numpy()
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(splits):
        in_a = np.zeros(len(real), bool)
        in_a[rng.permutation(len(real))[: len(real) // 2]] = True
        cf_a = kept & in_a[source]
        cf_b = kept & ~in_a[source]
        if min(cf_a.sum(), cf_b.sum()) < 2:
            raise ValueError(
                f"a half of the split holds {min(cf_a.sum(), cf_b.sum())} CEs (after the mask); "
                "sFID needs at least 2 in each"
            )
        values.append(
            0.5 * frechet_distance(real[in_a], cf[cf_b])
            + 0.5 * frechet_distance(real[~in_a], cf[cf_a])
        )
    return float(np.mean(values))


def _masked(images: Any, mask: Any) -> Any:
    keep = check_mask(mask, len(images))
    if keep is None:
        return images
    return images[keep.to(images.device) if isinstance(images, Tensor) else keep.numpy()]


def fid(
    real: Any, fake: Any, feature_fn: Features, batch_size: int = 256, mask: Any = None
) -> float:
    """:func:`frechet_distance` between the features of two image sets; ``mask`` keeps only
    some of ``fake`` (the valid CEs)."""
    return frechet_distance(
        extract_features(feature_fn, real, batch_size),
        extract_features(feature_fn, _masked(fake, mask), batch_size),
    )


def kid(
    real: Any,
    fake: Any,
    feature_fn: Features,
    batch_size: int = 256,
    mask: Any = None,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """:func:`kernel_distance` (mean, std) between the features of two image sets; ``mask``
    keeps only some of ``fake``."""
    return kernel_distance(
        extract_features(feature_fn, real, batch_size),
        extract_features(feature_fn, _masked(fake, mask), batch_size),
        subsets,
        subset_size,
        seed,
    )


def sfid(
    real: Any,
    x_cf: Any,
    feature_fn: Features,
    source_index: Any = None,
    batch_size: int = 256,
    mask: Any = None,
    splits: int = 1,
    seed: int = 0,
) -> float:
    """:func:`split_frechet_distance` on the features of real images and their CEs."""
    return split_frechet_distance(
        extract_features(feature_fn, real, batch_size),
        extract_features(feature_fn, x_cf, batch_size),
        source_index,
        mask,
        splits,
        seed,
    )
