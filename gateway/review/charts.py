"""Server-rendered SVG bar charts: no JavaScript, no build step, readable by screen readers
(``role="img"`` with a title and description; each page also shows the numbers as a
table)."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 180
MARGIN_LEFT, MARGIN_BOTTOM, MARGIN_TOP = 40, 28, 10


def bar_chart(chart_id: str, title: str, points: Sequence[tuple[str, int]]) -> Markup:
    """One bar per (label, value); labels are thinned to stay legible."""
    peak = max((value for _, value in points), default=0)
    total = sum(value for _, value in points)
    plot_w = WIDTH - MARGIN_LEFT - 10
    plot_h = HEIGHT - MARGIN_BOTTOM - MARGIN_TOP
    step = plot_w / max(len(points), 1)
    bar_w = max(step * 0.7, 1.0)
    every = max(1, len(points) // 7)
    desc = f"{total} in total over {len(points)} days; the highest day has {peak}."
    parts = [
        f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="{escape(chart_id)}-t {escape(chart_id)}-d" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{escape(chart_id)}-t">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-d">{escape(desc)}</desc>',
        f'<line class="axis" x1="{MARGIN_LEFT}" y1="{HEIGHT - MARGIN_BOTTOM}" '
        f'x2="{WIDTH - 10}" y2="{HEIGHT - MARGIN_BOTTOM}"/>',
        f'<text class="tick" x="{MARGIN_LEFT - 6}" y="{MARGIN_TOP + 4}" '
        f'text-anchor="end">{peak}</text>',
        f'<text class="tick" x="{MARGIN_LEFT - 6}" y="{HEIGHT - MARGIN_BOTTOM}" '
        'text-anchor="end">0</text>',
    ]
    for index, (label, value) in enumerate(points):
        height = 0.0 if peak == 0 else plot_h * value / peak
        x = MARGIN_LEFT + index * step + (step - bar_w) / 2
        y = HEIGHT - MARGIN_BOTTOM - height
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
            f'height="{height:.1f}"><title>{escape(label)}: {value}</title></rect>'
        )
        if index % every == 0:
            parts.append(
                f'<text class="tick" x="{x + bar_w / 2:.1f}" y="{HEIGHT - 10}" '
                f'text-anchor="middle">{escape(label[5:] if len(label) == 10 else label)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated value is escaped above
