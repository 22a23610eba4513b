"""Small inline SVG line charts (no plotting library, no external resources)."""

from __future__ import annotations

from html import escape

from leapfactual.report.sections import Curve

WIDTH, HEIGHT = 340, 210
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 26, 34
HEADROOM = 0.08
"""Share of the value range added above the highest value."""


def curve_svg(curve: Curve, boundary: int | None = None) -> str:
    """One curve per leap: the mean as a line, the 10-90 % band shaded, a dashed vertical
    line after leap ``boundary`` (blend / inject), a dotted reference level if any."""
    values = [*curve.low, *curve.high] + ([curve.reference] if curve.reference is not None else [])
    low, high = min(0.0, *values), max(values)
    if curve.name.startswith(("p(", "SSIM")):
        high = max(high, 1.0)
    high = high if high > low else low + 1
    high += HEADROOM * (high - low)  # the band and the reference stay below the title
    n = len(curve.mean)

    def px(k: float) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT) * (k / max(n - 1, 1))

    def py(v: float) -> float:
        return TOP + (HEIGHT - TOP - BOTTOM) * (1 - (v - low) / (high - low))

    band = [f"{px(k):.1f},{py(v):.1f}" for k, v in enumerate(curve.high)]
    band += [f"{px(k):.1f},{py(v):.1f}" for k, v in reversed(list(enumerate(curve.low)))]
    line = " ".join(f"{px(k):.1f},{py(v):.1f}" for k, v in enumerate(curve.mean))
    title = escape(curve.name)
    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" role="img" aria-label="{title} per leap" class="curve">',
        f'<text x="{LEFT}" y="16" font-size="13" font-weight="600">{title}</text>',
        f'<line x1="{LEFT}" y1="{py(low):.1f}" x2="{WIDTH - RIGHT}" y2="{py(low):.1f}" '
        'stroke="#8a94a6"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{py(low):.1f}" stroke="#8a94a6"/>',
    ]
    for v in (low, (low + high) / 2, high):
        parts.append(
            f'<text x="{LEFT - 4}" y="{py(v) + 4:.1f}" font-size="10" text-anchor="end" '
            f'fill="#5b6578">{v:.2g}</text>'
        )
    for k in sorted({0, (n - 1) // 2, n - 1}):
        parts.append(
            f'<text x="{px(k):.1f}" y="{HEIGHT - BOTTOM + 14}" font-size="10" '
            f'text-anchor="middle" fill="#5b6578">{k}</text>'
        )
    parts.append(
        f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 4}" font-size="10" '
        'text-anchor="middle" fill="#5b6578">leap</text>'
    )
    if boundary is not None and 0 < boundary < n - 1:
        x = px(boundary)
        parts.append(
            f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{py(low):.1f}" stroke="#c92a2a" '
            'stroke-dasharray="4 3" class="boundary"/>'
            f'<text x="{x + 3:.1f}" y="{TOP + 10}" font-size="10" fill="#c92a2a">inject</text>'
        )
    if curve.reference is not None:
        y = py(curve.reference)
        label_y = y - 4 if y - 14 >= TOP else y + 12  # below its line near the top
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#2b8a3e" '
            'stroke-dasharray="2 3" class="reference"/>'
            f'<text x="{LEFT + 4}" y="{label_y:.1f}" font-size="10" class="reference-label" '
            f'fill="#2b8a3e">random pairs {curve.reference:.2f}</text>'
        )
    parts.append(f'<polygon points="{" ".join(band)}" fill="#3b5bdb" fill-opacity="0.15"/>')
    parts.append(f'<polyline points="{line}" fill="none" stroke="#3b5bdb" stroke-width="2"/>')
    parts.append("</svg>")
    return "".join(parts)
