import math

import pytest
import torch

from leapfactual.metrics import l1_distance, l2_distance, proximity, psnr, ssim


def images(n: int = 6, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def test_identical_images() -> None:
    x = images()
    assert torch.all(l1_distance(x, x) == 0)
    assert torch.all(l2_distance(x, x) == 0)
    assert torch.allclose(ssim(x, x), torch.ones(6, dtype=torch.float64), atol=1e-12)
    assert torch.all(torch.isinf(psnr(x, x)))


def test_known_distances() -> None:
    x = torch.zeros(2, 28, 28)
    y = x.clone()
    y[0] += 0.1  # everywhere
    y[1, :14] = 0.5  # half the pixels
    assert l1_distance(y, x).tolist() == pytest.approx([0.1, 0.25])
    assert l2_distance(y, x).tolist() == pytest.approx([0.1, math.sqrt(0.125)])
    assert psnr(y, x)[0].item() == pytest.approx(20.0)
    assert psnr(y * 255, x * 255, data_range=255.0)[0].item() == pytest.approx(20.0)


def test_ssim_matches_scikit_image() -> None:
    skm = pytest.importorskip("skimage.metrics")

    def reference(a: torch.Tensor, b: torch.Tensor) -> list[float]:
        return [
            skm.structural_similarity(
                a[i].double().numpy(),
                b[i].double().numpy(),
                channel_axis=0,
                gaussian_weights=True,
                sigma=1.5,
                use_sample_covariance=False,
                data_range=1.0,
            )
            for i in range(len(a))
        ]

    x = images(8)
    y = (x + 0.2 * images(8, seed=1)).clamp(0, 1)
    assert ssim(y, x).tolist() == pytest.approx(reference(y, x), abs=1e-10)
    rgb = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    noisy = (rgb + 0.1 * torch.rand(2, 3, 32, 32)).clamp(0, 1)
    assert ssim(noisy, rgb).tolist() == pytest.approx(reference(noisy, rgb), abs=1e-10)
    assert torch.allclose(ssim(y[:, 0], x[:, 0]), ssim(y, x))


def test_ssim_drops_with_noise() -> None:
    x = images()
    little = (x + 0.05 * images(seed=1)).clamp(0, 1)
    much = (x + 0.5 * images(seed=1)).clamp(0, 1)
    assert torch.all(ssim(little, x) > ssim(much, x))


def test_proximity_means_and_mask() -> None:
    x = torch.zeros(4, 1, 28, 28)
    y = x.clone()
    y[:2] += 0.1
    y[2:] += 0.3
    both = proximity(y, x)
    assert both["l1"] == pytest.approx(0.2)
    assert both["psnr"] == pytest.approx((2 * 20.0 + 2 * -20 * math.log10(0.3)) / 4)
    only = proximity(y, x, mask=torch.tensor([True, True, False, False]))
    assert only["l1"] == pytest.approx(0.1)
    assert only["l2"] == pytest.approx(0.1)
    none = proximity(y, x, mask=torch.zeros(4, dtype=torch.bool))
    assert all(math.isnan(v) for v in none.values())


def test_shape_errors() -> None:
    with pytest.raises(ValueError, match="same shape"):
        l1_distance(torch.zeros(2, 4), torch.zeros(3, 4))
    with pytest.raises(ValueError, match="smaller than the 11-pixel"):
        ssim(torch.zeros(2, 8, 8), torch.zeros(2, 8, 8))
    with pytest.raises(ValueError, match="boolean"):
        proximity(torch.zeros(2, 4), torch.zeros(2, 4), mask=torch.ones(2))


def test_ssim_in_chunks_equals_ssim_at_once(monkeypatch) -> None:
    import importlib

    module = importlib.import_module("leapfactual.metrics.proximity")  # not the function

    gen = torch.Generator().manual_seed(0)
    a, b = torch.rand(7, 3, 16, 12, generator=gen), torch.rand(7, 3, 16, 12, generator=gen)
    whole = ssim(a, b)
    monkeypatch.setattr(module, "SSIM_CHUNK", 3 * 16 * 12 * 2)  # two images at a time
    assert torch.allclose(ssim(a, b), whole, rtol=0, atol=1e-12)
    monkeypatch.setattr(module, "SSIM_CHUNK", 1)  # one image at a time, however large
    assert torch.allclose(ssim(a, b), whole, rtol=0, atol=1e-12)
    assert ssim(a[:0], b[:0]).shape == (0,)
