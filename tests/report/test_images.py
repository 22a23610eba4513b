"""Difference maps: the signed brightness map, and the colour map that shows a change of hue
the brightness map cannot."""

from __future__ import annotations

import pytest
import torch

from leapfactual.report.images import colour_change, diff_heatmap


def red_to_green() -> tuple[torch.Tensor, torch.Tensor]:
    """A red square that turns green: the same brightness, another colour."""
    x = torch.zeros(3, 6, 6)
    x[0, 2:4, 2:4] = 1.0
    x_cf = torch.zeros(3, 6, 6)
    x_cf[1, 2:4, 2:4] = 1.0
    return x, x_cf


def test_a_change_of_hue_is_invisible_in_brightness_and_visible_in_colour() -> None:
    x, x_cf = red_to_green()
    assert torch.allclose(diff_heatmap(x, x_cf), torch.ones(3, 6, 6))  # all white: "no change"
    shown = colour_change(x, x_cf)
    assert torch.allclose(shown[:, 0, 0], torch.full((3,), 0.5))  # unchanged: mid grey
    assert shown[:, 2, 2].tolist() == [0.0, 1.0, 0.5]  # less red, more green, blue unchanged


def test_colour_change_saturates_at_the_limit_and_needs_rgb() -> None:
    x, x_cf = red_to_green()
    assert colour_change(x, x_cf * 0.5, limit=1.0)[1, 2, 2] == pytest.approx(0.75)
    with pytest.raises(ValueError, match=r"needs RGB images \[3, H, W\], got \(1, 6, 6\)"):
        colour_change(x[:1], x_cf[:1])
