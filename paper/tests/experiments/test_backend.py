"""The paper's figures never switch matplotlib's backend either (they use the library's
``figure``)."""

from pathlib import Path
from types import SimpleNamespace

import matplotlib
import pytest

from paper.experiments import divergence, improvement, toy


def _refuse(*args: object, **kwargs: object) -> None:
    raise AssertionError(f"paper code called matplotlib.use{args}")


def test_figures_leave_the_backend_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = matplotlib.get_backend()
    monkeypatch.setattr(matplotlib, "use", _refuse)
    table = {c: {"validity_model": (0.9, 0.0), "validity_truth": (0.6, 0.1)} for c in "AB"}
    div = SimpleNamespace(
        rows=[{"column": c} for c in "AB"],
        summary={"table": table},
        config=SimpleNamespace(weak_fraction=0.2),
    )
    paths = [divergence.plot(div, tmp_path / "div.png")]  # type: ignore[arg-type]

    rows = [{"kind": "CE", "fraction": f, "accuracy": 0.8 + f} for f in (0.0, 0.1)]
    imp = SimpleNamespace(rows=rows, mean=lambda name, key: 0.8, config=SimpleNamespace(data="x"))
    paths.append(improvement.plot(imp, tmp_path / "imp.png"))  # type: ignore[arg-type]

    field = toy.train_toy_flow(toy.ToyConfig(points=256, epochs=1))
    exp = toy.toy_explainer(field, toy.Solver("rk4", 2)).explain(toy.STARTS, toy.TARGET)
    paths.append(toy.plot_toy(field, exp, tmp_path / "toy.png"))

    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert matplotlib.get_backend() == before
