"""The comparison report in a real browser, as the run report is tested (test_report_browser.py): headless
Chromium loads the file from disk with no network; the answer (per design, its difference to the baseline)
comes before any chart at 1400 and at 800 px; every difference chart and every chart of a metric that
differs between designs is laid out and drawn, with a tooltip per point; the metrics no design changes are
folded; the P5–P95 bands and each scenario's line are painted, and no console errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from planalign.report.comparison_charts import SCENARIO_COLOURS
from tests.report.comparison_fixture import METRICS, SCENARIOS, YEARS

from .browser_support import Rendered, close, pixel_counts, render

pytestmark = pytest.mark.browser

INSPECT = """
(() => {
  const charts = {};
  for (const figure of document.querySelectorAll('figure[data-chart]')) {
    const svg = figure.querySelector('svg');
    const box = svg ? svg.getBoundingClientRect() : null;
    let drawn = 0;
    if (svg) {
      for (const el of svg.querySelectorAll('path, rect, use, text, line, polyline')) {
        const b = el.getBBox();
        if (b.width > 0 || b.height > 0) drawn += 1;
      }
    }
    const points = svg ? [...svg.querySelectorAll('g[id*="-point-"]')] : [];
    charts[figure.dataset.chart] = {
      width: box ? box.width : 0,
      height: box ? box.height : 0,
      drawn: drawn,
      top: box ? box.top + window.scrollY : 0,
      points: points.length,
      visiblePoints: points.filter(g => {
        const b = g.getBoundingClientRect();
        return b.width > 0 && b.height > 0;
      }).length,
      tooltips: points.filter(g => g.querySelector('title') && g.querySelector('title').textContent).length,
    };
  }
  const top = id => {
    const el = document.getElementById(id);
    return el ? el.getBoundingClientRect().top + window.scrollY : -1;
  };
  const folded = document.getElementById('unchanged-metrics');
  return {
    title: document.title,
    charts: charts,
    folded: folded ? [...folded.querySelectorAll('figure[data-chart]')].map(f => f.dataset.chart) : [],
    foldedOpen: folded ? folded.open : null,
    pageWidth: document.documentElement.scrollWidth,
    sections: {results: top('results'), answer: top('answer-table'), totals: top('totals-table'),
               assumptions: top('assumptions'), sweep: top('sweep-detail')},
  };
})()
"""


#: The metrics no design of the fixture changes (tests/report/comparison_fixture.py's EFFECTS).
UNCHANGED = {"actives", "hires", "terminations", "employer_core", "payroll"}
DELTA_CHARTS = ("employer_cost", "participation_rate", "average_deferral_rate", "employee_contributions")


@pytest.fixture(scope="module")
def rendered(comparison_report: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rendered]:
    screenshot = tmp_path_factory.mktemp("browser") / "comparison.png"
    yield render(comparison_report, INSPECT, screenshot, keep_env="PLANALIGN_COMPARISON_SCREENSHOT")


@pytest.mark.parametrize("width", [1400, 800])
def test_the_answer_comes_before_any_chart(comparison_report: Path, tmp_path: Path, width: int) -> None:
    """Issue #22.1: the answer used to be ~1,300 px down, below 12 level charts (≈ 6,000 px at 800 px)."""
    page = render(
        comparison_report, INSPECT, tmp_path / "shot.png", keep_env="PLANALIGN_X", viewport=(width, 900)
    ).page
    answer = page["sections"]["answer"]
    drawn = [c["top"] for c in page["charts"].values() if c["height"] > 0]
    assert 0 < answer < min(drawn), (answer, min(drawn))
    assert answer < 900, f"the answer starts below the first screen at {width} px: {answer}"


def test_page_loads_without_errors_or_network(rendered: Rendered, comparison_report: Path) -> None:
    load = rendered.load
    assert load.console_errors == [] and load.exceptions == [] and load.log_errors == []
    assert load.failed_requests == []
    assert load.requested_urls == [comparison_report.resolve().as_uri()]
    assert rendered.page["title"] == "planalign comparison plan_designs"


def test_every_shown_chart_is_laid_out_drawn_and_has_its_points(rendered: Rendered) -> None:
    charts = rendered.page["charts"]
    levels = {f"metric-{key}" for key, _, _ in METRICS}
    deltas = {f"delta-{key}" for key in DELTA_CHARTS}
    assert set(charts) == levels | deltas
    folded = {f"metric-{key}" for key in UNCHANGED}
    assert set(rendered.page["folded"]) == folded and rendered.page["foldedOpen"] is False
    for key, chart in charts.items():
        if key in folded:
            continue  # inside the closed "not changed by plan design" details
        assert chart["width"] > 250 and chart["height"] > 150, (key, chart)
        assert chart["drawn"] > 20, (key, chart)
        designs = len(SCENARIOS) - 1 if key in deltas else len(SCENARIOS)
        expected = designs * len(YEARS)
        assert chart["points"] == chart["visiblePoints"] == chart["tooltips"] == expected, (key, chart)


def test_results_open_the_page(rendered: Rendered) -> None:
    s = rendered.page["sections"]
    assert 0 <= s["results"] < s["answer"] < s["totals"] < s["assumptions"] < s["sweep"]
    shown = {k: c for k, c in rendered.page["charts"].items() if k not in rendered.page["folded"]}
    late = {k: c["top"] for k, c in shown.items() if c["top"] >= s["totals"]}
    assert not late, (late, s)


def test_screenshot_shows_each_scenario_and_its_band(rendered: Rendered) -> None:
    """Each scenario's colour is painted (its lines and markers), and so is its band: the colour at 16%
    opacity over white."""
    image = Image.open(rendered.screenshot).convert("RGB")
    colours = pixel_counts(image)
    for index, _ in enumerate(SCENARIOS):
        hex_colour = SCENARIO_COLOURS[index]
        rgb = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
        band = tuple(round(255 + (c - 255) * 0.16) for c in rgb)
        line = sum(n for colour, n in colours.items() if close(colour, rgb, 24))
        shaded = sum(n for colour, n in colours.items() if close(colour, band, 4))
        assert line > 300, f"scenario {index} ({hex_colour}) line barely painted: {line}"
        assert shaded > 300, f"scenario {index} ({hex_colour}) band barely painted: {shaded}"
