"""Charts drawn on the server as SVG: no script, no CDN, the same picture on screen and paper.

Each series differs by dash pattern and marker shape as well as colour, and every bar and
point carries its figure as text, so a chart stays readable printed in black and white.
Every piece of text is XML-escaped here; the result is marked safe for templates.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from django.utils.safestring import SafeString, mark_safe

FONT = "'WenQuanYi Micro Hei', 'Noto Sans CJK SC', 'Source Han Sans SC', sans-serif"
# Dark enough to print; told apart by dash and marker too.
STYLES = (
    {"color": "#a4161a", "dash": "", "marker": "circle"},
    {"color": "#1f4e8c", "dash": "6 4", "marker": "square"},
    {"color": "#2e6b30", "dash": "2 3", "marker": "triangle"},
    {"color": "#5b3c88", "dash": "10 3 2 3", "marker": "diamond"},
)


def _nice_max(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return 1
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _axis_top(peak: float, ticks: int = 4) -> float:
    """The axis maximum for counts: ``ticks`` equal whole steps of 1, 2 or 5 times ten^n."""
    step = 1
    while step * ticks < peak:
        for factor in (2, 2.5, 2):
            step *= factor
            if step * ticks >= peak:
                break
    return step * ticks


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _marker(shape: str, x: float, y: float, color: str) -> str:
    if shape == "square":
        return f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" fill="{color}"/>'
    if shape == "triangle":
        points = f"{x:.1f},{y - 4.5:.1f} {x + 4.5:.1f},{y + 3.5:.1f} {x - 4.5:.1f},{y + 3.5:.1f}"
        return f'<polygon points="{points}" fill="{color}"/>'
    if shape == "diamond":
        points = f"{x:.1f},{y - 5:.1f} {x + 5:.1f},{y:.1f} {x:.1f},{y + 5:.1f} {x - 5:.1f},{y:.1f}"
        return f'<polygon points="{points}" fill="{color}"/>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color}"/>'


def _open(width: int, height: int, title: str, chart_id: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-labelledby="{chart_id}-title" '
        f'font-family={quoteattr(FONT)} font-size="12">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
    ]


def line_chart(
    *,
    labels: list[str],
    series: list[tuple[str, list[float]]],
    title: str,
    chart_id: str = "trend",
    width: int = 640,
    height: int = 300,
) -> SafeString:
    """A line per series over ``labels`` (e.g. months), with a legend and the figures."""
    left, right, top, bottom = 48, 16, 36, 64
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((value for _, values in series for value in values), default=0)
    top_value = _axis_top(peak)
    count = max(len(labels), 1)
    step = plot_w / (count - 1) if count > 1 else 0

    def x_at(index: int) -> float:
        return left + (index * step if count > 1 else plot_w / 2)

    def y_at(value: float) -> float:
        return top + plot_h - (value / top_value) * plot_h

    parts = _open(width, height, title, chart_id)
    for tick in range(5):
        value = top_value * tick / 4
        y = y_at(value)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
            f'stroke="#d0d0d0" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#333">'
            f"{_number(value)}</text>"
        )
    for index, label in enumerate(labels):
        parts.append(
            f'<text x="{x_at(index):.1f}" y="{top + plot_h + 18}" text-anchor="middle" '
            f'fill="#333">{escape(label)}</text>'
        )
    parts.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
        f'stroke="#333" stroke-width="1"/>'
    )
    for number, (name, values) in enumerate(series):
        style = STYLES[number % len(STYLES)]
        points = " ".join(f"{x_at(i):.1f},{y_at(v):.1f}" for i, v in enumerate(values))
        dash = f' stroke-dasharray="{style["dash"]}"' if style["dash"] else ""
        parts.append(f'<g class="series"><title>{escape(name)}</title>')
        if len(values) > 1:
            parts.append(
                f'<polyline points="{points}" fill="none" stroke="{style["color"]}" '
                f'stroke-width="2.2"{dash}/>'
            )
        for i, value in enumerate(values):
            x, y = x_at(i), y_at(value)
            parts.append(_marker(style["marker"], x, y, style["color"]))
            if value:
                parts.append(
                    f'<text x="{x:.1f}" y="{y - 7:.1f}" text-anchor="middle" font-size="10" '
                    f'fill="{style["color"]}">{_number(value)}</text>'
                )
        parts.append("</g>")
    # Legend, below the axis labels; a new line when the next entry would not fit.
    x, y = left, height - 24
    for number, (name, _) in enumerate(series):
        style = STYLES[number % len(STYLES)]
        entry = 40 + 8 * len(name) + 7 * sum(1 for ch in name if ord(ch) > 0x2E80) + 16
        if x + entry > width - right and x > left:
            x, y = left, y + 16
        dash = f' stroke-dasharray="{style["dash"]}"' if style["dash"] else ""
        parts.append(
            f'<line x1="{x}" y1="{y - 4}" x2="{x + 26}" y2="{y - 4}" stroke="{style["color"]}" '
            f'stroke-width="2.2"{dash}/>'
        )
        parts.append(_marker(style["marker"], x + 13, y - 4, style["color"]))
        parts.append(f'<text x="{x + 32}" y="{y}" fill="#1a1a1a">{escape(name)}</text>')
        x += entry
    parts.append(
        f'<text x="{left}" y="20" font-size="14" font-weight="bold" fill="#1a1a1a">'
        f"{escape(title)}</text>"
    )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


def bar_chart(
    *,
    items: list[tuple[str, float | None]],
    title: str,
    chart_id: str = "bars",
    percent: bool = True,
    width: int = 640,
    empty_text: str = "",
) -> SafeString:
    """Horizontal bars, one per item, each with its figure; ``None`` reads "no data"."""
    label_w, right, top, row_h = 190, 70, 36, 26
    height = top + max(len(items), 1) * row_h + 16
    plot_w = width - label_w - right
    known = [value for _, value in items if value is not None]
    peak = max(known, default=0)
    top_value = 1.0 if percent and peak <= 1 else _nice_max(peak)
    parts = _open(width, height, title, chart_id)
    parts.append(
        f'<text x="8" y="20" font-size="14" font-weight="bold" fill="#1a1a1a">'
        f"{escape(title)}</text>"
    )
    if not items:
        parts.append(f'<text x="8" y="{top + 16}" fill="#4a4a4a">{escape(empty_text)}</text>')
    for index, (label, value) in enumerate(items):
        y = top + index * row_h
        shown = label if len(label) <= 14 else label[:13] + "…"
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end" fill="#1a1a1a">'
            f"<title>{escape(label)}</title>{escape(shown)}</text>"
        )
        parts.append(
            f'<rect x="{label_w}" y="{y + 4}" width="{plot_w}" height="16" fill="#f5f2ee" '
            f'stroke="#d0d0d0"/>'
        )
        if value is None:
            parts.append(
                f'<text x="{label_w + 6}" y="{y + 16}" fill="#4a4a4a">{escape(empty_text)}</text>'
            )
            continue
        bar = plot_w * min(value / top_value, 1.0) if top_value else 0
        parts.append(
            f'<rect x="{label_w}" y="{y + 4}" width="{bar:.1f}" height="16" fill="#a4161a" '
            f'stroke="#1a1a1a" stroke-width="0.5"/>'
        )
        text = f"{value * 100:.1f}%" if percent else _number(value)
        parts.append(f'<text x="{label_w + bar + 6:.1f}" y="{y + 16}" fill="#1a1a1a">{text}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped
