"""Server-rendered inline SVG charts: readable without JavaScript, printable, with a text alternative.

Every chart carries ``role="img"``, a ``<title>`` and a ``<desc>``; the reports put
a data table next to each chart, so nothing is only available as a picture.
"""

from __future__ import annotations

import math
from datetime import date
from html import escape

PALETTE = {"intervention": "#c2410c", "control": "#1d4ed8", "improved": "#15803d", "worse": "#b91c1c",
           "no_detectable_effect": "#6b7280", "inconclusive": "#b45309", None: "#6b7280"}


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=raw)
    out = [math.floor(lo / step) * step]
    while out[-1] < hi - step * 1e-9:
        out.append(out[-1] + step)
    return [round(v, 10) for v in out]


def _num(v: float, lang: str) -> str:
    text = f"{v:g}" if abs(v) >= 1000 or v == int(v) else f"{v:.2f}".rstrip("0").rstrip(".")
    return (text.replace(".", ",") if lang == "nl" else text).replace("-", "−")


def time_series(chart_id: str, labels: list[str], series: dict[str, list[float | None]], marker: str | None,
                unit: str, title: str, desc: str, names: dict[str, str], lang: str = "nl",
                width: int = 560, height: int = 260) -> str:
    """Daily lines per group, the intervention period shaded and its start marked."""
    left, right, top, bottom = 60, 12, 16, 40
    pw, ph = width - left - right, height - top - bottom
    values = [v for s in series.values() for v in s if v is not None]
    if not labels or not values:
        return ""
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.05 or 1
    ticks = _ticks(lo - pad, hi + pad)
    y0, y1 = ticks[0], ticks[-1]
    n = len(labels)

    def x(i: int) -> float:
        return left + (pw * i / (n - 1) if n > 1 else pw / 2)

    def y(v: float) -> float:
        return top + ph - (v - y0) / (y1 - y0) * ph

    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
             f'xmlns="http://www.w3.org/2000/svg"><title id="{chart_id}-t">{escape(title)}</title>'
             f'<desc id="{chart_id}-d">{escape(desc)}</desc>']
    if marker and marker in labels:
        xi = x(labels.index(marker))
        parts.append(f'<rect x="{xi:.1f}" y="{top}" width="{left + pw - xi:.1f}" height="{ph}" fill="#fef3c7"/>')
        parts.append(f'<line x1="{xi:.1f}" x2="{xi:.1f}" y1="{top}" y2="{top + ph}" stroke="#92400e" '
                     f'stroke-dasharray="4 3"/>')
        parts.append(f'<text x="{xi + 4:.1f}" y="{top + 12}" font-size="13" fill="#92400e">'
                     f'{"interventie" if lang == "nl" else "intervention"}</text>')
    for t in ticks:
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#e5e7eb"/>')
        parts.append(f'<text x="{left - 6}" y="{y(t) + 4:.1f}" font-size="13" text-anchor="end">{_num(t, lang)}</text>')
    parts.append(f'<text x="12" y="{top + ph / 2:.0f}" font-size="13" transform="rotate(-90 12 {top + ph / 2:.0f})" '
                 f'text-anchor="middle">{escape(unit)}</text>')
    months = [i for i, lab in enumerate(labels) if lab.endswith("-01")]
    step = max(1, math.ceil(len(months) / 8))
    for i in months[::step]:
        parts.append(f'<text x="{x(i):.1f}" y="{top + ph + 16}" font-size="13" text-anchor="middle">{labels[i][:7]}</text>')
    for key, vals in series.items():
        colour = PALETTE.get(key, "#111827")
        runs, cur = [], []
        for i, v in enumerate(vals):
            if v is None:
                if cur:
                    runs.append(cur)
                cur = []
            else:
                cur.append(f"{x(i):.1f},{y(v):.1f}")
        if cur:
            runs.append(cur)
        for run in runs:
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{" ".join(run)}"/>')
    lx = left + 8
    for key in series:
        parts.append(f'<rect x="{lx}" y="{height - 12}" width="12" height="4" fill="{PALETTE.get(key, "#111827")}"/>'
                     f'<text x="{lx + 16}" y="{height - 7}" font-size="13">{escape(names.get(key, key))}</text>')
        lx += 190
    parts.append("</svg>")
    return "".join(parts)


def effects(chart_id: str, rows: list[dict], unit: str, title: str, desc: str, lang: str = "nl",
            width: int = 560) -> str:
    """A forest plot: one row per city, the estimate as a dot and the interval as a whisker."""
    rows = [r for r in rows if r.get("estimate") is not None]
    if not rows:
        return ""
    left, right, top, row_h = 150, 24, 28, 30
    height = top + row_h * len(rows) + 30
    pw = width - left - right
    lo = min(min(r["low"] for r in rows), 0.0)
    hi = max(max(r["high"] for r in rows), 0.0)
    ticks = _ticks(lo, hi)
    x0, x1 = ticks[0], ticks[-1]

    def x(v: float) -> float:
        return left + (v - x0) / (x1 - x0) * pw

    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
             f'xmlns="http://www.w3.org/2000/svg"><title id="{chart_id}-t">{escape(title)}</title>'
             f'<desc id="{chart_id}-d">{escape(desc)}</desc>']
    for t in ticks:
        parts.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top - 8}" y2="{height - 24}" stroke="#e5e7eb"/>'
                     f'<text x="{x(t):.1f}" y="{height - 8}" font-size="13" text-anchor="middle">{_num(t, lang)}</text>')
    parts.append(f'<line x1="{x(0):.1f}" x2="{x(0):.1f}" y1="{top - 8}" y2="{height - 24}" stroke="#111827"/>')
    for i, r in enumerate(rows):
        cy = top + i * row_h + row_h / 2
        colour = PALETTE.get(r.get("verdict"), "#6b7280")
        parts.append(f'<text x="{left - 8}" y="{cy + 4:.1f}" font-size="13" text-anchor="end">{escape(r["label"])}</text>')
        parts.append(f'<line x1="{x(r["low"]):.1f}" x2="{x(r["high"]):.1f}" y1="{cy:.1f}" y2="{cy:.1f}" '
                     f'stroke="{colour}" stroke-width="2"/>')
        for end in (r["low"], r["high"]):
            parts.append(f'<line x1="{x(end):.1f}" x2="{x(end):.1f}" y1="{cy - 5:.1f}" y2="{cy + 5:.1f}" '
                         f'stroke="{colour}" stroke-width="2"/>')
        parts.append(f'<circle cx="{x(r["estimate"]):.1f}" cy="{cy:.1f}" r="4.5" fill="{colour}"/>')
    parts.append(f'<text x="{left + pw}" y="{top - 10}" font-size="13" text-anchor="end">{escape(unit)}</text></svg>')
    return "".join(parts)


def today() -> str:
    return date.today().isoformat()
