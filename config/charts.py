"""Bar charts drawn on the server as SVG: no JavaScript, no CDN, nothing the CSP refuses.

Colours come from classes (static/css/dashboard.css), never style attributes.
"""

from dataclasses import dataclass, field

WIDTH, HEIGHT = 720, 180  # the drawing's own units; the SVG scales to its box
TOP, BOTTOM = 8, 22  # room for the bars' tallest value and the date labels


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css_class: str
    title: str  # read by screen readers and shown on hover
    href: str = ""


@dataclass(frozen=True)
class Label:
    x: float
    text: str
    anchor: str = "middle"  # SVG text-anchor: the first and last labels stay inside


@dataclass
class BarChart:
    title: str
    top_label: str  # the value of the tallest bar
    bars: list[Bar] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    baseline: int = HEIGHT - BOTTOM


@dataclass(frozen=True)
class Column:
    """One bucket: its label, its stacked parts (css class, value, title) and link."""

    label: str
    parts: list[tuple[str, int, str]]
    href: str = ""


def bar_chart(title: str, columns: list[Column], format_value=str) -> BarChart:
    """Stacked bars, one per column, scaled to the tallest; about six date labels."""
    tallest = max((sum(value for _, value, _ in column.parts) for column in columns), default=0)
    chart = BarChart(title=title, top_label=format_value(tallest) if tallest else "")
    if not columns:
        return chart
    slot = WIDTH / len(columns)
    gap = min(2.0, slot * 0.2)
    usable = HEIGHT - TOP - BOTTOM
    label_every = max(1, round(len(columns) / 6))
    for index, column in enumerate(columns):
        x = index * slot + gap / 2
        bottom = float(chart.baseline)
        for css_class, value, part_title in column.parts:
            if value <= 0:
                continue
            height = usable * value / tallest
            bottom -= height
            chart.bars.append(
                Bar(
                    round(x, 2),
                    round(bottom, 2),
                    round(slot - gap, 2),
                    round(height, 2),
                    css_class,
                    f"{column.label}: {part_title} {format_value(value)}",
                    column.href,
                )
            )
        if index % label_every == 0:
            # Centred under its bar, except at the edges, where half the text would be cut
            if index == 0:
                chart.labels.append(Label(round(x, 2), column.label, "start"))
            elif index == len(columns) - 1:
                chart.labels.append(Label(round(x + slot - gap, 2), column.label, "end"))
            else:
                chart.labels.append(Label(round(x + (slot - gap) / 2, 2), column.label))
    return chart
