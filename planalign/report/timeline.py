"""The execution timeline: every model execution by worker lane, year and stage bands above, the
concurrency limit, the models running and the memory watchdog's events below.

Its own module because it is the report's largest figure (three axes sharing the run's clock, a tooltip per
bar, band and marker); the pieces every chart shares are in `planalign.report.charts`.
"""

from __future__ import annotations

import math
from typing import Any

from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from planalign.engine.results import PressureEvent
from planalign.report.charts import (
    CLASS_COLOURS,
    FAILED_EDGE_COLOUR,
    STAGE_ABBREVIATIONS,
    STAGE_COLOURS,
    Chart,
    class_colour,
    fitting_label,
    format_seconds,
    new_figure,
    plural,
    short_stage,
    svg_from_figure,
)
from planalign.report.model import RunReport
from planalign.report.views import concurrency_profile, limit_at, limit_profile, watchdog_events


def timeline_chart(report: RunReport) -> Chart | None:
    """Every model execution by worker lane, with year and stage bands, the concurrency limit over time and
    the watchdog's events."""
    executions = report.executions
    if not executions:
        return None
    runs = report.runs
    lanes = sorted({e.lane for e in executions})
    lane_row = {lane: row for row, lane in enumerate(lanes)}
    total = max(report.duration_s, max(e.end_s for e in executions), 1e-9)

    fig = new_figure(13.0, 2.6 + 0.42 * len(lanes) + 1.9)
    grid = fig.add_gridspec(
        3, 1, height_ratios=[0.9, 0.42 * len(lanes) + 0.5, 1.7], hspace=0.08, left=0.07, right=0.99
    )
    ax_bands = fig.add_subplot(grid[0])
    ax_lanes = fig.add_subplot(grid[1], sharex=ax_bands)
    ax_limit = fig.add_subplot(grid[2], sharex=ax_bands)

    # Year and stage bands.
    ax_bands.set_ylim(0, 2)
    ax_bands.set_yticks([0.5, 1.5], labels=["stage", "year"])
    ax_bands.tick_params(axis="x", labelbottom=False)
    ax_bands.tick_params(axis="y", length=0)
    for spine in ax_bands.spines.values():
        spine.set_visible(False)
    for run in runs:
        colour = STAGE_COLOURS.get(run.stage, "#DDDDDD")
        ax_bands.add_patch(
            Rectangle((run.start_s, 0.05), run.wall_s, 0.9, facecolor=colour, edgecolor="white", alpha=0.75)
        )
        band_label = fitting_label(
            run.wall_s / total, short_stage(run.stage), STAGE_ABBREVIATIONS.get(run.stage)
        )
        if band_label:
            ax_bands.text(run.start_s + run.wall_s / 2, 0.5, band_label, ha="center", va="center", fontsize=7)

    titles: dict[str, str] = {}
    for index, step in enumerate(report.other_steps):
        width = step.end_s - step.start_s
        name = "dbt tests" if step.stage == "validation_tests" else short_stage(step.stage)
        band = Rectangle(
            (step.start_s, 0.05), width, 0.9, facecolor="#E5E5E5", edgecolor="#999999", hatch="..", lw=0.5
        )
        band.set_gid(f"step-{index}")
        ax_bands.add_patch(band)
        titles[f"step-{index}"] = (
            f"{step.label} · {name}, {width:.2f} s · not an engine run: placed after the engine run "
            "before it (the summary records its duration, not its start)"
        )
        band_label = fitting_label(width / total, name, "tests" if step.stage == "validation_tests" else None)
        if band_label:
            ax_bands.text(step.start_s + width / 2, 0.5, band_label, ha="center", va="center", fontsize=7)

    year_spans: dict[str, tuple[float, float]] = {}
    spans = sorted(
        [(r.year, r.start_s, r.end_s) for r in runs]
        + [(s.year, s.start_s, s.end_s) for s in report.other_steps],
        key=lambda span: span[1],
    )
    for year, start, end in spans:
        year_key = str(year) if year is not None else "setup"
        first, last = year_spans.get(year_key, (start, end))
        year_spans[year_key] = (min(first, start), max(last, end))
    for index, (year_key, (first, last)) in enumerate(year_spans.items()):
        shade = "#4D4D4D" if index % 2 == 0 else "#7F7F7F"
        ax_bands.add_patch(Rectangle((first, 1.05), last - first, 0.9, facecolor=shade, edgecolor="white"))
        if (last - first) / total > 0.006 * len(year_key):
            ax_bands.text(
                (first + last) / 2, 1.5, year_key, ha="center", va="center", color="white", fontsize=8
            )

    # Stage shading behind the lanes, so a bar's stage can be read without looking up.
    for run in runs:
        ax_lanes.axvspan(
            run.start_s, run.end_s, facecolor=STAGE_COLOURS.get(run.stage, "#DDDDDD"), alpha=0.10, lw=0
        )

    for index, e in enumerate(executions):
        row = lane_row[e.lane]
        failed = not e.succeeded
        bar = Rectangle(
            (e.start_s, row - 0.38),
            max(e.duration_s, total * 0.0005),
            0.76,
            facecolor=class_colour(e.execution_class),
            edgecolor=FAILED_EDGE_COLOUR if failed else ("black" if e.on_critical_path else "white"),
            linewidth=1.6 if failed or e.on_critical_path else 0.4,
            hatch="///" if failed else None,
        )
        gid = f"exec-{index}"
        bar.set_gid(gid)
        ax_lanes.add_patch(bar)
        year_text = str(e.year) if e.year is not None else "simulation"
        titles[gid] = (
            f"{e.model} · {year_text} {e.stage} · {e.execution_class} · lane {e.lane} · "
            f"{e.start_s:.2f}–{e.end_s:.2f} s ({e.duration_s:.2f} s) · {e.status}"
            + (f" · {e.attempts} attempts" if e.attempts > 1 else "")
            + (" · critical path" if e.on_critical_path else "")
        )
        if e.duration_s / total > 0.0065 * max(6, len(e.model)):
            ax_lanes.text(
                e.start_s + e.duration_s / 2,
                row,
                e.model,
                ha="center",
                va="center",
                fontsize=6.5,
                color="white",
                clip_on=True,
            )
    watchdog = watchdog_events(runs)
    for at_s, event in watchdog:
        if event.kind == "pressure":
            ax_lanes.axvline(at_s, color=FAILED_EDGE_COLOUR, linestyle=":", linewidth=1.2)
    ax_lanes.set_ylim(len(lanes) - 0.5, -0.5)
    ax_lanes.set_yticks(range(len(lanes)), labels=[f"lane {lane}" for lane in lanes])
    ax_lanes.tick_params(axis="x", labelbottom=False)
    ax_lanes.set_xlim(0, total * 1.005)

    # Concurrency: the limit in force and how many models actually ran.
    times, counts = concurrency_profile(executions)
    ax_limit.fill_between(
        times, counts, step="post", color="#6C8EBF", alpha=0.45, lw=0, label="models running"
    )
    limit_times, limits = limit_profile(runs)
    ax_limit.plot(
        limit_times, limits, drawstyle="steps-post", color="black", lw=1.4, label="concurrency limit"
    )
    labelled: set[str] = set()
    for index, (at_s, event) in enumerate(watchdog):
        pressure = event.kind == "pressure"
        legend_label = "memory pressure" if pressure else "pressure relieved"
        (marker,) = ax_limit.plot(
            [at_s],
            [(limit_at(runs, at_s) or 1.0) + 0.35],
            linestyle="none",
            marker="v" if pressure else "^",
            markersize=8,
            color=FAILED_EDGE_COLOUR if pressure else "#009E73",
            label=legend_label if legend_label not in labelled else "_nolegend_",
        )
        labelled.add(legend_label)
        gid = f"watchdog-{index}"
        marker.set_gid(gid)
        titles[gid] = f"{at_s:.2f} s · {_describe(event)}"
    top = max([*counts, *[v for v in limits if not math.isnan(v)], 1])
    ax_limit.set_ylim(0, top + 1)
    ax_limit.set_ylabel("workers")
    ax_limit.set_xlabel("seconds since the run started")
    ax_limit.grid(axis="y", alpha=0.3)
    ax_limit.legend(loc="upper right", fontsize=7, framealpha=0.85, ncols=3)

    handles: list[Any] = [
        Patch(facecolor=colour, label=name.replace("_", " ")) for name, colour in CLASS_COLOURS.items()
    ]
    handles.append(Patch(facecolor="white", edgecolor=FAILED_EDGE_COLOUR, hatch="///", label="failed"))
    if any(e.on_critical_path for e in executions):
        handles.append(Patch(facecolor="white", edgecolor="black", linewidth=1.6, label="critical path"))
    if any(event.kind == "pressure" for _, event in watchdog):
        handles.append(Line2D([], [], color=FAILED_EDGE_COLOUR, linestyle=":", label="memory pressure"))
    ax_bands.legend(
        handles=handles,
        loc="lower right",
        bbox_to_anchor=(1.0, 1.02),
        ncols=len(handles),
        fontsize=7.5,
        frameon=False,
    )

    lanes_used = len(lanes)
    pressure_count = sum(1 for _, event in watchdog if event.kind == "pressure")
    changes = sum(len(run.limit_changes) for run in runs)
    caption = (
        f"{len(executions)} model executions on {lanes_used} worker lane{plural(lanes_used)} over "
        f"{format_seconds(total)}; {changes} concurrency-limit change{'s' if changes != 1 else ''} and "
        f"{pressure_count} memory-pressure event{'s' if pressure_count != 1 else ''}. "
        "Hover a bar for the model, its timing and status."
    )
    return Chart("timeline", "Execution timeline", caption, svg_from_figure(fig, "timeline", titles))


def _describe(event: PressureEvent) -> str:
    """A watchdog transition as its tooltip says it: what happened, why, the memory, the limit."""
    return (
        f"{event.kind}: {event.reason} (rss {event.rss_mb:.0f} MB, available {event.available_mb:.0f} MB, "
        f"limit {event.limit_before}→{event.limit_after}{'' if event.acted else ', observed only'})"
    )
