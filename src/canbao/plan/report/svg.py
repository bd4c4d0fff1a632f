"""Horizontal bar charts as self-contained inline SVG (no JavaScript, no external fonts)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from html import escape

from canbao.plan import fmt

FONT = "'Noto Sans CJK SC','Noto Sans SC','Source Han Sans SC','Microsoft YaHei',sans-serif"
COLORS = {
    "top": "#2e7d32",
    "bottom": "#c62828",
    "normal": "#1f5fa8",
    "behind": "#e57373",
    "none": "#9e9e9e",
}


@dataclass(frozen=True)
class Bar:
    label: str
    value: Decimal | None  # fraction (1 = 100%)
    kind: str = "normal"  # top, bottom, normal


def bar_chart(
    title: str,
    bars: list[Bar],
    *,
    reference: Decimal | None = None,
    reference_label: str = "时间进度",
    width: int = 680,
    compact: bool = False,
) -> str:
    """Bars sorted as given; a dashed vertical line marks ``reference`` (e.g. time progress).

    ``compact`` draws a small multiple (half width) for a two-column grid."""
    if compact:
        width = min(width, 345)
        bar_h, gap, left, right, top_pad, bottom_pad, fs = 12, 4, 70, 48, 44, 22, 10
    else:
        bar_h, gap, left, right, top_pad, bottom_pad, fs = 18, 6, 96, 70, 48, 26, 12
    height = top_pad + len(bars) * (bar_h + gap) + bottom_pad
    values = [b.value for b in bars if b.value is not None]
    vmax = max([Decimal("1.0"), *(values or []), reference or Decimal(0)])
    vmax = vmax * Decimal("1.05")
    plot_w = width - left - right

    def x(v: Decimal) -> float:
        return left + float(v / vmax) * plot_w

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        f'font-family="{FONT}" font-size="{fs}">',
        f'<text x="{width / 2}" y="16" text-anchor="middle" font-size="{fs + 2}" font-weight="bold">'
        f"{escape(title)}</text>",
    ]
    # grid at 0, 25, 50, 75, 100 %, …
    step = Decimal("0.25")
    g = Decimal(0)
    axis_y = top_pad + len(bars) * (bar_h + gap)
    while g <= vmax:
        gx = x(g)
        parts.append(
            f'<line x1="{gx:.1f}" y1="{top_pad - 4}" x2="{gx:.1f}" y2="{axis_y}" '
            f'stroke="#e0e0e0" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{gx:.1f}" y="{axis_y + 14}" text-anchor="middle" fill="#616161" '
            f'font-size="10">{fmt.pct(g, 0)}</text>'
        )
        g += step
    for i, b in enumerate(bars):
        y = top_pad + i * (bar_h + gap)
        parts.append(
            f'<text x="{left - 6}" y="{y + bar_h - 3}" text-anchor="end">{escape(b.label)}</text>'
        )
        if b.value is None:
            parts.append(
                f'<text x="{left + 4}" y="{y + bar_h - 3}" fill="{COLORS["none"]}">无数据</text>'
            )
            continue
        w = max(0.0, x(b.value) - left)
        color = COLORS.get(b.kind, COLORS["normal"])
        parts.append(
            f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{color}" rx="2"/>'
        )
        parts.append(
            f'<text x="{left + w + 4:.1f}" y="{y + bar_h - 3}" fill="#212121">{fmt.pct(b.value)}</text>'
        )
    if reference is not None:
        rx = x(reference)
        parts.append(
            f'<line x1="{rx:.1f}" y1="{top_pad - 6}" x2="{rx:.1f}" y2="{axis_y}" stroke="#ef6c00" '
            f'stroke-width="1.5" stroke-dasharray="5,3"/>'
        )
        parts.append(
            f'<text x="{rx:.1f}" y="{top_pad - 10}" text-anchor="middle" fill="#ef6c00" '
            f'font-size="{fs - 1}">{escape(reference_label)} {fmt.pct(reference)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
