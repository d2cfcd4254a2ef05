"""The charts of the comparison report (`planalign.report.comparison`): each metric's levels over the years
(P50 lines, P5–P95 bands), each design's difference to the baseline per year (from zero, P5–P95 whiskers),
and the tornado of a design's cost difference under each sensitivity; with the number formats they share
with the report's tables. Each chart is a `planalign.report.charts.Chart` (inline SVG, a tooltip per point).
"""

from __future__ import annotations

from collections.abc import Callable

from matplotlib.ticker import FuncFormatter

from planalign.report.charts import Chart, format_count, format_money, new_figure, svg_from_figure
from planalign.report.comparison_model import Comparison, MetricSpec, Stat
from planalign.report.panels import percent

#: One colour per scenario, in sweep order (Okabe-Ito, then greys).
SCENARIO_COLOURS: tuple[str, ...] = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#F0E442",
    "#000000",
    "#777777",
    "#BBBBBB",
)


def _rate_tick(value: float, _pos: object = None) -> str:
    return percent(value, 1)


def _dollar_tick(value: float, _pos: object = None) -> str:
    return f"${value:,.0f}" if value >= 0 else f"−${-value:,.0f}"


def unit_formatter(unit: str) -> Callable[[float, object], str]:
    if unit == "rate":
        return _rate_tick
    if unit == "usd_per_person":
        return _dollar_tick  # a few thousand dollars: "$3k" on every tick would say nothing
    if unit == "usd":
        return format_money
    return format_count


def _same_as_baseline(comparison: Comparison, name: str, metric: str) -> bool:
    """Every year's statistic equals the baseline's (the design does not touch this metric): its line lies
    under the baseline's, so the legend says so."""
    if name == comparison.baseline:
        return False
    mine, base = comparison.series(name, metric), dict(comparison.series(comparison.baseline, metric))
    return bool(mine) and all(
        y in base and abs(s.p50 - base[y].p50) <= 1e-9 * max(1.0, abs(s.p50)) and s.delta_p50 == 0
        for y, s in mine
    )


def format_value(unit: str, value: float) -> str:
    """A value for a table: money to the dollar, rates to 0.01 points, counts whole."""
    if unit == "rate":
        return percent(value, 2)
    if unit in ("usd", "usd_per_person"):
        return f"${value:,.0f}" if value >= 0 else f"−${-value:,.0f}"
    return f"{value:,.0f}"


def format_delta(unit: str, value: float) -> str:
    sign = "+" if value > 0 else "−" if value < 0 else "±"
    if unit == "rate":
        return f"{sign}{abs(value) * 100:.2f} pts"
    if unit in ("usd", "usd_per_person"):
        return f"{sign}${abs(value):,.0f}"
    return f"{sign}{abs(value):,.0f}"


def scenario_colour(index: int) -> str:
    return SCENARIO_COLOURS[index % len(SCENARIO_COLOURS)]


def _point_text(comparison: Comparison, metric: MetricSpec, scenario: str, year: int, stat: Stat) -> str:
    text = f"{scenario} {year}: P50 {format_value(metric.unit, stat.p50)}"
    if stat.n > 1:
        low, high = format_value(metric.unit, stat.p5), format_value(metric.unit, stat.p95)
        text += f" (P5 {low}, P95 {high}, {stat.n} seeds)"
    if scenario != comparison.baseline:
        text += f"; vs {comparison.baseline} {format_delta(metric.unit, stat.delta_p50)}"
    return text


def metric_chart(comparison: Comparison, metric: MetricSpec) -> Chart | None:
    """The scenarios side by side over the years: P50 lines, P5–P95 bands, a tooltip per point."""
    key = f"metric-{metric.key}"
    series = [
        (i, name, comparison.series(name, metric.key)) for i, name in enumerate(comparison.scenario_names)
    ]
    series = [(i, name, points) for i, name, points in series if points]
    if not series:
        return None
    fig = new_figure(4.8, 3.0)
    ax = fig.add_subplot()
    titles: dict[str, str] = {}
    bands = False
    for index, name, points in series:
        years = [y for y, _ in points]
        colour = scenario_colour(index)
        if any(s.has_band for _, s in points):
            bands = True
            ax.fill_between(
                years,
                [s.p5 for _, s in points],
                [s.p95 for _, s in points],
                color=colour,
                alpha=0.16,
                linewidth=0,
            )
        label = (
            f"{name} (= {comparison.baseline})" if _same_as_baseline(comparison, name, metric.key) else name
        )
        ax.plot(years, [s.p50 for _, s in points], color=colour, linewidth=1.6, label=label)
        for year, stat in points:
            (marker,) = ax.plot([year], [stat.p50], marker="o", markersize=4, color=colour, linestyle="none")
            gid = f"point-{index}-{year}"
            marker.set_gid(gid)
            titles[gid] = _point_text(comparison, metric, name, year, stat)
    ax.set_xticks(list(comparison.years), labels=[str(y) for y in comparison.years])
    ax.yaxis.set_major_formatter(FuncFormatter(unit_formatter(metric.unit)))
    ax.set_title(metric.label, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.margins(y=0.2)
    values = [v for _, _, points in series for _, st in points for v in (st.p5, st.p50, st.p95)]
    if all(v == 0 for v in values):
        ax.set_yticks([0.0])  # all zero: one tick, not a ladder of "$0"s
    ax.legend(fontsize=7, frameon=False, loc="best")
    fig.tight_layout()
    caption = "P50 over the seeds" + (", shaded P5–P95" if bands else "") + "; hover a point for its values."
    return Chart(key, metric.label, caption, svg_from_figure(fig, key, titles))


def delta_chart(comparison: Comparison, metric: MetricSpec) -> Chart | None:
    """Each design's difference to the baseline per year, from zero: the P50 of the paired differences
    with a P5–P95 whisker, so a difference of $25k on a $20M cost is visible and so is its range."""
    designs = [(i, n) for i, n in enumerate(comparison.scenario_names) if n != comparison.baseline]
    series = [(i, n, comparison.series(n, metric.key)) for i, n in designs]
    series = [(i, n, points) for i, n, points in series if points]
    if not series:
        return None
    key = f"delta-{metric.key}"
    fig = new_figure(4.8, 3.0)
    ax = fig.add_subplot()
    titles: dict[str, str] = {}
    width = 0.6 / max(1, len(series))
    for slot, (index, name, points) in enumerate(series):
        colour = scenario_colour(index)
        offset = (slot - (len(series) - 1) / 2) * width
        xs = [y + offset for y, _ in points]
        p50 = [s.delta_p50 for _, s in points]
        low = [s.delta_p50 - s.delta_p5 for _, s in points]
        high = [s.delta_p95 - s.delta_p50 for _, s in points]
        ax.errorbar(xs, p50, yerr=[low, high], fmt="none", ecolor=colour, elinewidth=1.4, capsize=3)
        for x, (year, stat) in zip(xs, points, strict=True):
            (marker,) = ax.plot(
                [x], [stat.delta_p50], marker="o", markersize=5, color=colour, linestyle="none"
            )
            gid = f"point-{index}-{year}"
            marker.set_gid(gid)
            text = f"{name} {year}: {format_delta(metric.unit, stat.delta_p50)} vs {comparison.baseline}"
            if stat.n > 1:
                text += (
                    f" (P5 {format_delta(metric.unit, stat.delta_p5)}, "
                    f"P95 {format_delta(metric.unit, stat.delta_p95)}, {stat.n} seeds)"
                )
            titles[gid] = text
        ax.plot([], [], marker="o", color=colour, linestyle="none", label=name)
    ax.axhline(0.0, color="#333333", linewidth=1)
    ax.set_xticks(list(comparison.years), labels=[str(y) for y in comparison.years])
    ax.yaxis.set_major_formatter(FuncFormatter(_delta_formatter(metric.unit)))
    if all(v == 0 for _, _, points in series for _, st in points for v in (st.delta_p5, st.delta_p95)):
        ax.set_yticks([0.0])  # no difference at all: one tick, not a made-up scale
    short = metric.label.split(" (")[0]
    ax.set_title(f"{short}: difference", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.margins(x=0.15, y=0.2)
    ax.legend(fontsize=7, frameon=False, loc="best")
    fig.tight_layout()
    caption = (
        f"P50 of the differences to {comparison.baseline} with the same seeds; whiskers P5–P95. "
        "Hover a point for its values."
    )
    return Chart(
        key, f"{short}: difference to {comparison.baseline}", caption, svg_from_figure(fig, key, titles)
    )


def _delta_formatter(unit: str) -> Callable[[float, object], str]:
    def tick(value: float, _pos: object = None) -> str:
        if unit == "rate":
            return format_delta("rate", value).replace(" pts", "")
        return format_delta(unit, value)

    return tick


def varies_with_design(comparison: Comparison, metric: str) -> bool:
    """Whether any design's value of `metric` differs from the baseline's in any year (its paired
    differences are not all zero, or its level differs)."""
    base = comparison.baseline
    for name in comparison.scenario_names:
        if name == base:
            continue
        for _, stat in comparison.series(name, metric):
            if stat.delta_p5 != 0 or stat.delta_p50 != 0 or stat.delta_p95 != 0:
                return True
        if not _same_as_baseline(comparison, name, metric) and comparison.series(name, metric):
            return True
    return False


def tornado_chart(comparison: Comparison, scenario: str) -> Chart | None:
    """One design's present-value cost difference to the baseline under each sensitivity's low and high
    value (P50 of the paired differences), as bars from the central difference: the widest bar is the
    assumption the answer depends on most."""
    central = comparison.totals.get((scenario, "pv_employer_cost"))
    names = comparison.sensitivity_names
    if central is None or not names:
        return None
    key = f"tornado-{scenario}"
    ends: list[tuple[str, float, float]] = []
    for name in names:
        low = comparison.sensitivity(name, "low", scenario)
        high = comparison.sensitivity(name, "high", scenario)
        if low is not None and high is not None:
            ends.append((name, low.delta_p50, high.delta_p50))
    if not ends:
        return None
    ends.sort(key=lambda e: abs(e[2] - e[1]))  # the widest at the top
    fig = new_figure(4.8, 0.9 + 0.45 * len(ends))
    ax = fig.add_subplot()
    titles: dict[str, str] = {}
    base = central.delta_p50
    for row, (name, low_delta, high_delta) in enumerate(ends):
        for side, value, colour in (("low", low_delta, "#0072B2"), ("high", high_delta, "#D55E00")):
            (bar,) = ax.barh([row], [value - base], left=[base], height=0.6, color=colour, alpha=0.85)
            gid = f"{key}-{row}-{side}"
            bar.set_gid(gid)
            titles[gid] = (
                f"{name} {side}: {format_delta('usd', value)} vs {comparison.baseline} "
                f"(central {format_delta('usd', base)})"
            )
    ax.axvline(base, color="#333333", linewidth=1)
    # From zero: a bar that is a sliver next to the difference itself is an answer that barely moves.
    values = [0.0, base, *(v for _, low_delta, high_delta in ends for v in (low_delta, high_delta))]
    pad = 0.08 * (max(values) - min(values) or 1.0)
    ax.set_xlim(min(values) - pad, max(values) + pad)
    ax.axvline(0.0, color="#999999", linewidth=0.6)
    ax.set_yticks(range(len(ends)), labels=[e[0] for e in ends])
    ax.xaxis.set_major_formatter(FuncFormatter(_delta_formatter("usd")))
    ax.set_title(f"{scenario}: present-value cost vs {comparison.baseline}", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    caption = (
        f"Blue: the assumption's low value, orange: its high value; the line is the difference under the "
        f"stated assumptions ({format_delta('usd', base)}). P50 of the paired differences over the seeds."
    )
    title = f"Sensitivity of {scenario}'s cost difference"
    return Chart(key, title, caption, svg_from_figure(fig, key, titles))
