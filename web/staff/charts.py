"""Server-rendered SVG bar charts: no JavaScript, no CDN, readable by screen readers (each chart
has a title, a description, and its figures in a table)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

WIDTH = 640
HEIGHT = 260
LEFT = 48
BOTTOM = 48
TOP = 16
RIGHT = 12


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: int
    value: float | None
    label: str


@dataclass
class Chart:
    id: str
    title: str
    unit: str
    labels: list[str]
    series: list[tuple[str, list[float | None]]]
    bars: list[Bar] = field(default_factory=list)
    ticks: list[tuple[float, str]] = field(default_factory=list)
    label_x: list[tuple[float, str]] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    plot_bottom: float = HEIGHT - BOTTOM
    left: float = LEFT
    right: float = WIDTH - RIGHT

    @property
    def empty(self) -> bool:
        return not any(v for _, values in self.series for v in values)

    @property
    def summary(self) -> str:
        parts = []
        for name, values in self.series:
            shown = ", ".join(
                f"{label} {'–' if v is None else _fmt(v)}"
                for label, v in zip(self.labels, values, strict=True)
            )
            parts.append(f"{name}: {shown}")
        return "; ".join(parts)


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)


def bar_chart(
    chart_id: str,
    title: str,
    labels: list[str],
    series: list[tuple[str, list[Any]]],
    unit: str = "",
) -> Chart:
    chart = Chart(
        chart_id,
        title,
        unit,
        labels,
        [(n, [None if v is None else float(v) for v in vs]) for n, vs in series],
    )
    top = _nice_max(max((v for _, vs in chart.series for v in vs if v is not None), default=0))
    plot_h = HEIGHT - BOTTOM - TOP
    plot_w = WIDTH - LEFT - RIGHT
    group = plot_w / max(len(labels), 1)
    inner = group * 0.75
    bar_w = inner / max(len(series), 1)
    for i in range(5):
        value = top * i / 4
        chart.ticks.append((HEIGHT - BOTTOM - plot_h * i / 4, _fmt(value)))
    step = max(1, math.ceil(len(labels) / 12))
    for g, label in enumerate(labels):
        x0 = LEFT + g * group + (group - inner) / 2
        if g % step == 0:
            chart.label_x.append((LEFT + g * group + group / 2, label))
        for s, (_, values) in enumerate(chart.series):
            value = values[g]
            h = 0.0 if value is None else plot_h * value / top
            chart.bars.append(
                Bar(
                    x=round(x0 + s * bar_w, 1),
                    y=round(HEIGHT - BOTTOM - h, 1),
                    width=round(max(bar_w - 2, 1), 1),
                    height=round(h, 1),
                    series=s,
                    value=value,
                    label=label,
                )
            )
    return chart
