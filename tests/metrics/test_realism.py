import numpy as np
import pytest
import torch
from torch import nn

from leapfactual.metrics import (
    extract_features,
    fid,
    frechet_distance,
    kernel_distance,
    kid,
    sfid,
    split_frechet_distance,
)


def gaussian(n: int, dim: int = 4, shift: float = 0.0, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, dim)) + shift


def test_fid_of_identical_sets_is_zero() -> None:
    a = gaussian(500)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    # the unbiased KID of a set with itself is only about 0 (within-set terms skip i == j)
    assert abs(kernel_distance(a, a, subsets=5, subset_size=100)[0]) < 0.1


def test_fid_grows_with_a_shift() -> None:
    a, b = gaussian(4000, seed=1), gaussian(4000, seed=2)
    same = frechet_distance(a, b)
    assert same < 0.05
    # a shift c leaves the covariances alone: FID gains |c|^2 + 2 c . (mean_b - mean_a)
    gain = 4.0 + 2.0 * (b.mean(axis=0) - a.mean(axis=0)).sum()
    assert frechet_distance(a, b + 1.0) == pytest.approx(same + gain, abs=1e-8)
    assert frechet_distance(a, 2.0 * b) == pytest.approx(4.0, rel=0.05)  # trace: 4 * (1 - 2)^2


def test_kid_separates_distributions() -> None:
    a, b = gaussian(600, seed=1), gaussian(600, seed=2)
    same, _ = kernel_distance(a, b, subsets=20, subset_size=200)
    far, spread = kernel_distance(a, b + 1.0, subsets=20, subset_size=200)
    assert abs(same) < 0.05
    assert far > 100 * abs(same)
    assert far > 3 * spread
    assert kernel_distance(a, b, 3, 100, seed=3) == kernel_distance(a, b, 3, 100, seed=3)


def test_feature_checks() -> None:
    with pytest.raises(ValueError, match="feature sizes differ"):
        frechet_distance(gaussian(10, 3), gaussian(10, 4))
    with pytest.raises(ValueError, match="at least 2"):
        frechet_distance(gaussian(1), gaussian(10))
    with pytest.raises(ValueError, match=r"\[N, F\]"):
        frechet_distance(np.zeros(10), gaussian(10))


def test_sfid_never_compares_a_ce_with_its_source() -> None:
    real = gaussian(400, seed=4)
    # CEs identical to their sources: plain FID says 0, sFID compares disjoint halves
    assert frechet_distance(real, real) == pytest.approx(0.0, abs=1e-8)
    split = split_frechet_distance(real, real, seed=0)
    assert split > 0.01
    halves = split_frechet_distance(real, real, splits=3, seed=0)
    assert halves == split_frechet_distance(real, real, splits=3, seed=0)
    # with CEs drawn independently of their sources, sFID is ordinary FID noise
    assert split_frechet_distance(real, gaussian(400, seed=5) + 1.0) == pytest.approx(4.0, abs=0.5)


def test_sfid_several_ces_per_source_and_mask() -> None:
    real = gaussian(100, seed=6)
    source = np.repeat(np.arange(100), 3)  # three CEs per source
    ces = real[source] + 0.01 * gaussian(300, seed=7)
    value = split_frechet_distance(real, ces, source_index=source, seed=1)
    assert value > 0.01
    keep = np.zeros(300, bool)
    keep[::2] = True
    masked = split_frechet_distance(real, ces, source_index=source, mask=keep, seed=1)
    assert masked != value
    with pytest.raises(ValueError, match="at least 2 in each"):
        split_frechet_distance(real, ces, source_index=source, mask=np.arange(300) < 3)
    with pytest.raises(ValueError, match="pass source_index"):
        split_frechet_distance(real, ces)
    with pytest.raises(ValueError, match=r"\[0, 100\)"):
        split_frechet_distance(real, ces, source_index=source + 1)


class Features(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(64, 6), nn.Tanh())
        self.batches: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.batches.append(len(x))
        return self.net(x)


def test_image_level_metrics_use_the_feature_network() -> None:
    g = torch.Generator().manual_seed(0)
    real = torch.rand(300, 1, 8, 8, generator=g)
    net = Features()
    feats = extract_features(net, real, batch_size=128)
    assert feats.shape == (300, 6) and feats.dtype == np.float64
    assert net.batches == [128, 128, 44]
    assert fid(real, real, net) == pytest.approx(0.0, abs=1e-8)
    brighter = (real + 0.5).clamp(0, 1)
    assert fid(real, brighter, net) > 0.1
    valid = torch.arange(300) % 2 == 0
    assert fid(real, brighter, net, mask=valid) == pytest.approx(
        frechet_distance(feats, extract_features(net, brighter[valid]))
    )
    mean, _ = kid(real, brighter, net, subsets=5, subset_size=100)
    assert mean > 0
    assert sfid(real, real, net) > 0
