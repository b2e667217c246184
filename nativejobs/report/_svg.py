"""Small faceted SVG charts, written as text: grouped bars and scatter panels with one legend.

Why not matplotlib: a report of the paper's ~3,000 records needs a few dozen panels, and
matplotlib spends ~0.1–0.25 s of CPU per panel on layout and text (over a minute for the old
per-arm figures on two busy cores), while these panels are a few thousand ``<rect>`` and
``<circle>`` elements: milliseconds, vector, a few hundred kB inline in the page. Every mark has
a ``<title>`` (its label and value on hover). Pure functions; no dependency.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["BarPanel", "ScatterPanel", "Series", "bar_figure", "scatter_figure"]

_FONT = 'font-family="system-ui,sans-serif"'
_PANEL_H = 150
_GAP = 26  # between panels
_LEFT = 46  # y tick labels
_TOP = 22  # panel title
_LEGEND_W = 170
_MAX_ROW_W = 1250
_CHAR_W = 5.2  # average width of a 9px character, for margins


@dataclass(frozen=True)
class Series:
    """One legend entry: a series' name, colour and mark (bar, circle, square, triangle, diamond)."""

    name: str
    colour: str
    mark: str = "bar"


@dataclass(frozen=True)
class BarPanel:
    """Grouped bars: one group per label, one bar per series (None: no bar)."""

    title: str
    labels: tuple[str, ...]
    values: dict[str, tuple[float | None, ...]]  # series name → a value per label


@dataclass(frozen=True)
class ScatterPanel:
    """Points ``(colour series, mark series, x, y, tooltip)`` and a note (e.g. r per arm)."""

    title: str
    points: tuple[tuple[str, str, float, float, str], ...]
    note: tuple[str, ...] = ()


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _n(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def ticks(low: float, high: float, *, target: int = 4) -> list[float]:
    """Round tick values covering [low, high] (1, 2 or 5 × a power of ten apart)."""
    if not high > low:
        low, high = low - 0.5, high + 0.5
    raw = (high - low) / target
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step + 1e-9)
    last = math.ceil(high / step - 1e-9)
    return [round(i * step, 10) for i in range(first, last + 1)]


def _fmt_tick(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True)
class _Grid:
    """Where panels go: ``ncols`` per row, each ``width`` wide and ``below`` for x labels
    (slanted when they would not fit side by side)."""

    ncols: int
    width: float
    below: float
    slanted: bool = False

    def origin(self, i: int) -> tuple[float, float]:
        row, col = divmod(i, self.ncols)
        return (col * (_LEFT + self.width + _GAP),
                34 + row * (_TOP + _PANEL_H + self.below + _GAP))

    def size(self, n: int) -> tuple[float, float]:
        rows = math.ceil(n / self.ncols)
        return (self.ncols * (_LEFT + self.width + _GAP) + _LEGEND_W,
                34 + rows * (_TOP + _PANEL_H + self.below + _GAP))


def _grid(n: int, groups: int, bars: int, longest_label: int) -> _Grid:
    width = min(_MAX_ROW_W - _LEFT, max(200.0, groups * (bars * 5 + 7) + 10))
    ncols = max(1, min(n, 4, int(_MAX_ROW_W // (_LEFT + width + _GAP))))
    slanted = groups * (longest_label * _CHAR_W + 4) > width
    below = 10 + (min(longest_label, 24) * _CHAR_W * 0.85 if slanted else 14)
    return _Grid(ncols, width, below, slanted)


def _svg(title: str, n: int, grid: _Grid, body: list[str], legend: str) -> str:
    w, h = grid.size(n)
    return (f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{_n(w)}" '
            f'height="{_n(h)}" viewBox="0 0 {_n(w)} {_n(h)}" {_FONT} font-size="9">'
            f'<title>{_esc(title)}</title><rect width="100%" height="100%" fill="#fff"/>'
            f'<text x="4" y="16" font-size="13" font-weight="600">{_esc(title)}</text>'
            f'{"".join(body)}{legend}</svg>')


def _frame(x0: float, y0: float, width: float, title: str, tick_values: list[float],
           y: Callable[[float], float]) -> list[str]:
    """A panel's title, box, y grid lines and tick labels; ``y`` maps a value to a pixel."""
    out = [f'<text x="{_n(x0 + _LEFT)}" y="{_n(y0 + 14)}" font-size="11">{_esc(title)}</text>',
           f'<rect x="{_n(x0 + _LEFT)}" y="{_n(y0 + _TOP)}" width="{_n(width)}" '
           f'height="{_PANEL_H}" fill="none" stroke="#888" stroke-width="0.6"/>']
    for t in tick_values:
        py = y(t)
        colour = "#444" if t == 0 else "#e3e3e3"
        out.append(f'<line x1="{_n(x0 + _LEFT)}" x2="{_n(x0 + _LEFT + width)}" y1="{_n(py)}" '
                   f'y2="{_n(py)}" stroke="{colour}" stroke-width="0.6"/>'
                   f'<text x="{_n(x0 + _LEFT - 3)}" y="{_n(py + 3)}" text-anchor="end">'
                   f"{_fmt_tick(t)}</text>")
    return out


def _scale(lo: float, hi: float, y0: float) -> Callable[[float], float]:
    def y(v: float) -> float:
        return y0 + _TOP + _PANEL_H * (1 - (v - lo) / (hi - lo))

    return y


def _legend(x: float, entries: Sequence[Series], title: str) -> str:
    out = [f'<g class="legend"><text x="{_n(x)}" y="44" font-weight="600">{_esc(title)}</text>']
    for i, s in enumerate(entries):
        y = 58 + 14 * i
        out.append(f'<g class="entry">{_mark(s.mark, x + 5, y - 3, s.colour, 4.5)}'
                   f'<text x="{_n(x + 17)}" y="{_n(y)}">{_esc(s.name)}</text></g>')
    return "".join(out) + "</g>"


def _mark(mark: str, x: float, y: float, colour: str, r: float, tip: str = "") -> str:
    """A mark centred on (x, y): a point shape, or (legend only) ``bar``, a small square, and
    ``swatch``, a flat bar that stands for a colour alone."""
    t = f"<title>{_esc(tip)}</title>" if tip else ""
    if mark == "circle":
        return f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{_n(r)}" fill="{colour}">{t}</circle>'
    if mark == "swatch":
        return (f'<rect x="{_n(x - 2 * r)}" y="{_n(y - r / 2)}" width="{_n(4 * r)}" '
                f'height="{_n(r)}" fill="{colour}">{t}</rect>')
    if mark in ("square", "bar"):
        return (f'<rect x="{_n(x - r)}" y="{_n(y - r)}" width="{_n(2 * r)}" height="{_n(2 * r)}" '
                f'fill="{colour}">{t}</rect>')
    corners = {"triangle": ((0, -1.2), (1.1, 0.8), (-1.1, 0.8)),
               "diamond": ((0, -1.3), (1.1, 0), (0, 1.3), (-1.1, 0))}.get(mark, ((0, -1.2),))
    pts = " ".join(f"{_n(x + dx * r)},{_n(y + dy * r)}" for dx, dy in corners)
    return f'<polygon points="{pts}" fill="{colour}">{t}</polygon>'


def bar_figure(title: str, panels: Sequence[BarPanel], series: Sequence[Series], *,
               legend_title: str) -> str:
    """Panels of grouped bars in rows, and one legend of every series drawn in any panel."""
    groups = max(len(p.labels) for p in panels)
    longest = max((len(label) for p in panels for label in p.labels), default=1)
    grid = _grid(len(panels), groups, len(series), longest)
    body: list[str] = []
    drawn: set[str] = set()
    for i, panel in enumerate(panels):
        body += _bar_panel(panel, series, grid, *grid.origin(i), drawn)
    legend = _legend(grid.size(len(panels))[0] - _LEGEND_W + 8,
                     [s for s in series if s.name in drawn], legend_title)
    return _svg(title, len(panels), grid, body, legend)


def _bar_panel(panel: BarPanel, series: Sequence[Series], grid: _Grid, x0: float, y0: float,
               drawn: set[str]) -> list[str]:
    values = [v for s in series for v in panel.values.get(s.name, ()) if v is not None]
    tick_values = ticks(min(0.0, *values), max(0.0, *values)) if values else [0.0, 1.0]
    y = _scale(tick_values[0], tick_values[-1], y0)
    out = _frame(x0, y0, grid.width, panel.title, tick_values, y)
    step = grid.width / max(1, len(panel.labels))
    shown = [s for s in series if any(v is not None for v in panel.values.get(s.name, ()))]
    bar_w = step * 0.8 / max(1, len(shown))
    zero = y(0.0)
    for k, s in enumerate(shown):
        drawn.add(s.name)
        for g, v in enumerate(panel.values[s.name]):
            if v is None:
                continue
            top = y(v)
            bx = x0 + _LEFT + g * step + step * 0.1 + k * bar_w
            out.append(f'<rect x="{_n(bx)}" y="{_n(min(top, zero))}" width="{_n(bar_w)}" '
                       f'height="{_n(max(0.3, abs(zero - top)))}" fill="{s.colour}"><title>'
                       f"{_esc(panel.labels[g])} · {_esc(s.name)}: {v:.3f}</title></rect>")
    out += _x_labels(panel.labels, x0 + _LEFT, y0 + _TOP + _PANEL_H, step, grid)
    return out


def _x_labels(labels: Sequence[str], x: float, y: float, step: float, grid: _Grid) -> list[str]:
    out = []
    for g, label in enumerate(labels):
        cx = x + (g + 0.5) * step
        text = _esc(label if len(label) <= 24 else label[:23] + "…")
        if grid.slanted:
            out.append(f'<text transform="translate({_n(cx + 3)},{_n(y + 6)}) rotate(-60)" '
                       f'text-anchor="end">{text}</text>')
        else:
            out.append(f'<text x="{_n(cx)}" y="{_n(y + 12)}" text-anchor="middle">{text}</text>')
    return out


def scatter_figure(title: str, panels: Sequence[ScatterPanel], colours: Sequence[Series],
                   marks: Sequence[Series], *, x_label: str, y_label: str) -> str:
    """Scatter panels (a zero line on y) and one legend: colours first, then marks."""
    lines = max((len(p.note) for p in panels), default=0)
    grid = _Grid(min(4, len(panels)), 230.0, 34.0 + 10 * lines)
    colour = {s.name: s.colour for s in colours}
    mark = {s.name: s.mark for s in marks}
    body: list[str] = []
    drawn: set[str] = set()
    for i, panel in enumerate(panels):
        body += _scatter_panel(panel, colour, mark, grid, *grid.origin(i), drawn)
        x0, y0 = grid.origin(i)
        body.append(f'<text x="{_n(x0 + _LEFT + grid.width / 2)}" y="{_n(y0 + _TOP + _PANEL_H + 26)}" '
                    f'text-anchor="middle">{_esc(x_label)}</text>'
                    f'<text transform="translate({_n(x0 + 10)},{_n(y0 + _TOP + _PANEL_H / 2)}) '
                    f'rotate(-90)" text-anchor="middle">{_esc(y_label)}</text>')
    entries = [s for s in (*colours, *marks) if s.name in drawn]
    legend = _legend(grid.size(len(panels))[0] - _LEGEND_W + 8, entries, "colour, mark")
    return _svg(title, len(panels), grid, body, legend)


def _scatter_panel(panel: ScatterPanel, colour: dict[str, str], mark: dict[str, str], grid: _Grid,
                   x0: float, y0: float, drawn: set[str]) -> list[str]:
    xs = [p[2] for p in panel.points] or [0.0, 1.0]
    ys = [p[3] for p in panel.points] or [0.0]
    y_ticks = ticks(min(0.0, *ys), max(0.0, *ys))
    x_ticks = ticks(min(xs), max(xs))
    y = _scale(y_ticks[0], y_ticks[-1], y0)
    out = _frame(x0, y0, grid.width, panel.title, y_ticks, y)

    def x(v: float) -> float:
        return x0 + _LEFT + grid.width * (v - x_ticks[0]) / (x_ticks[-1] - x_ticks[0])

    for t in x_ticks:
        out.append(f'<text x="{_n(x(t))}" y="{_n(y0 + _TOP + _PANEL_H + 11)}" '
                   f'text-anchor="middle">{_fmt_tick(t)}</text>')
    for c, m, px, py, tip in panel.points:
        drawn.update((c, m))
        out.append(_mark(mark.get(m, "circle"), x(px), y(py), colour.get(c, "#555"), 3.2, tip))
    for k, line in enumerate(panel.note):  # below the x label, clear of the points
        out.append(f'<text x="{_n(x0 + _LEFT)}" y="{_n(y0 + _TOP + _PANEL_H + 38 + 10 * k)}" '
                   f'font-size="8" fill="#333">{_esc(line)}</text>')
    return out
