"""The inline SVG charts: the title, the band and the reference label never collide."""

from __future__ import annotations

import re

from leapfactual.report.sections import Curve
from leapfactual.report.svg import TOP, curve_svg


def numbers(svg: str, pattern: str) -> list[float]:
    return [float(v) for v in re.findall(pattern, svg)]


def test_the_band_stays_inside_the_axes_and_the_reference_label_below_the_title() -> None:
    curve = Curve("L1 to input", [0.1, 0.2, 0.3], [0.05, 0.1, 0.2], [0.2, 0.3, 0.4], 0.4)
    svg = curve_svg(curve)
    band = re.search(r'<polygon points="([^"]+)"', svg)
    assert band is not None
    ys = [float(point.split(",")[1]) for point in band.group(1).split()]
    assert min(ys) > TOP  # the band's top is under the axis top, not on or above it
    (label_y,) = numbers(svg, r'y="([\d.]+)" font-size="10" class="reference-label"')
    assert label_y - 10 > 16  # the label's top is below the title's baseline (y=16)


def test_a_low_reference_keeps_its_label_above_its_line() -> None:
    curve = Curve("L1 to input", [0.5, 0.6, 0.7], [0.4, 0.5, 0.6], [0.6, 0.7, 0.8], 0.2)
    svg = curve_svg(curve)
    (line_y,) = numbers(svg, r'<line x1="\d+" y1="([\d.]+)" x2="\d+" y2="[\d.]+" stroke="#2b8a3e"')
    (label_y,) = numbers(svg, r'y="([\d.]+)" font-size="10" class="reference-label"')
    assert label_y == line_y - 4
