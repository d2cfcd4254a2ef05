"""The comparison report in a real browser, as the run report is tested (test_report_browser.py): headless
Chromium loads the file from disk with no network; every metric's chart must be laid out and drawn, with a
tooltip per point, the P5–P95 bands and each scenario's line painted, and no console errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from planalign.report.comparison import SCENARIO_COLOURS
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
  return {
    title: document.title,
    charts: charts,
    sections: {results: top('results'), totals: top('totals-table'), assumptions: top('assumptions'),
               sweep: top('sweep-detail')},
  };
})()
"""


@pytest.fixture(scope="module")
def rendered(comparison_report: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rendered]:
    screenshot = tmp_path_factory.mktemp("browser") / "comparison.png"
    yield render(comparison_report, INSPECT, screenshot, keep_env="PLANALIGN_COMPARISON_SCREENSHOT")


def test_page_loads_without_errors_or_network(rendered: Rendered, comparison_report: Path) -> None:
    load = rendered.load
    assert load.console_errors == [] and load.exceptions == [] and load.log_errors == []
    assert load.failed_requests == []
    assert load.requested_urls == [comparison_report.resolve().as_uri()]
    assert rendered.page["title"] == "planalign comparison plan_designs"


def test_every_metric_chart_is_laid_out_drawn_and_has_its_points(rendered: Rendered) -> None:
    charts = rendered.page["charts"]
    assert set(charts) == {f"metric-{key}" for key, _, _ in METRICS}
    for key, chart in charts.items():
        assert chart["width"] > 250 and chart["height"] > 150, (key, chart)
        assert chart["drawn"] > 20, (key, chart)
        expected = len(SCENARIOS) * len(YEARS)
        assert chart["points"] == chart["visiblePoints"] == chart["tooltips"] == expected, (key, chart)


def test_results_open_the_page(rendered: Rendered) -> None:
    s = rendered.page["sections"]
    assert 0 <= s["results"] < s["totals"] < s["assumptions"] < s["sweep"]
    assert all(chart["top"] < s["totals"] for chart in rendered.page["charts"].values())


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
