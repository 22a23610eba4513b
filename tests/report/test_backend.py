"""Library figures never switch the user's matplotlib backend (e.g. a notebook's inline one)."""

from pathlib import Path

import matplotlib
import pytest
import torch

from leapfactual.report import save_grid_figure


def _refuse(*args: object, **kwargs: object) -> None:
    raise AssertionError(f"library code called matplotlib.use{args}")


def test_figures_leave_the_backend_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = matplotlib.get_backend()
    monkeypatch.setattr(matplotlib, "use", _refuse)
    gen = torch.Generator().manual_seed(0)
    path = save_grid_figure(torch.rand(2, 3, 1, 8, 8, generator=gen), "abc", tmp_path / "g.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert matplotlib.get_backend() == before
