"""Bar charts of counts per hour, laid out here and drawn as SVG by a template."""

from dataclasses import dataclass

WIDTH, HEIGHT = 720, 160
LEFT, BOTTOM, TOP = 40, 20, 10


@dataclass(frozen=True)
class Bar:
    """One rectangle: where it is, its series, and what it counts (for its tooltip)."""

    x: float
    y: float
    width: float
    height: float
    series: str
    title: str


@dataclass(frozen=True)
class Chart:
    """A titled chart: its bars, the largest count (the axis top), and hour labels."""

    title: str
    bars: list[Bar]
    top: int
    labels: list[tuple[float, str]]
    series: tuple[str, ...]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    bottom: int = BOTTOM
    upper: int = TOP


def stacked(title: str, hours: list[str], counts: dict[tuple[str, str], int],
            series: tuple[str, ...]) -> Chart:
    """Bars per hour, each stacked from the counts of `series` in that hour."""
    totals = [sum(counts.get((hour, name), 0) for name in series) for hour in hours]
    top = max(totals + [1])
    plot_width, plot_height = WIDTH - LEFT, HEIGHT - BOTTOM - TOP
    slot = plot_width / max(len(hours), 1)
    bars = []
    for index, hour in enumerate(hours):
        base = HEIGHT - BOTTOM
        for name in series:
            count = counts.get((hour, name), 0)
            if not count:
                continue
            height = plot_height * count / top
            base -= height
            bars.append(Bar(round(LEFT + index * slot + 1, 1), round(base, 1),
                            round(max(slot - 2, 1), 1), round(height, 1), name,
                            f"{hour}:00 UTC: {count} {name}"))
    # A label every six hours keeps them readable at this width.
    labels = [(round(LEFT + index * slot, 1), hour[-2:] + ":00")
              for index, hour in enumerate(hours) if int(hour[-2:]) % 6 == 0]
    return Chart(title, bars, top, labels, series)


def single(title: str, hours: list[str], counts: dict[str, int], name: str) -> Chart:
    """Bars per hour of one series."""
    return stacked(title, hours, {(hour, name): total for hour, total in counts.items()},
                   (name,))
