"""The report in a real browser: headless Chromium loads the file from disk, with no network, and the
timeline and every chart must render (laid out, non-empty, painted) without console errors.

Chromium is Debian's `chromium` package (`.ci/run` installs it). Without it the test fails under CI (the
`CI` environment variable set) and is skipped elsewhere. `PLANALIGN_CHROMIUM` names another executable;
`PLANALIGN_REPORT_SCREENSHOT` names a path to keep the screenshot at, for a human to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from planalign.report import CLASS_COLOURS
from tests.fixtures.sample_run import SampleRun

from .browser_support import VIEWPORT, Rendered, close, pixel_counts, render
from .test_report_html import CHART_KEYS

pytestmark = pytest.mark.browser


#: Run in the page once it has loaded: what each chart looks like to the layout engine.
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
    charts[figure.dataset.chart] = {
      width: box ? box.width : 0,
      height: box ? box.height : 0,
      drawn: drawn,
      top: box ? box.top + window.scrollY : 0,
      left: box ? box.left : 0,
    };
  }
  const bars = [...document.querySelectorAll('#chart-timeline g[id^="timeline-exec-"]')];
  const barSizes = bars.map(g => {
    const b = g.getBoundingClientRect();
    return [b.width, b.height];
  });
  return {
    title: document.title,
    charts: charts,
    bars: bars.length,
    visibleBars: barSizes.filter(([w, h]) => w > 0 && h > 0).length,
    tooltips: bars.filter(g => g.querySelector('title') && g.querySelector('title').textContent).length,
  };
})()
"""


@pytest.fixture(scope="module")
def rendered(sample_report: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rendered]:
    screenshot = tmp_path_factory.mktemp("browser") / "report.png"
    yield render(sample_report, INSPECT, screenshot, keep_env="PLANALIGN_REPORT_SCREENSHOT")


def test_page_loads_without_errors_or_network(rendered: Rendered, sample_report: Path) -> None:
    load = rendered.load
    assert load.console_errors == []
    assert load.exceptions == []
    assert load.log_errors == []
    assert load.failed_requests == []
    assert load.requested_urls == [sample_report.resolve().as_uri()]
    assert rendered.page["title"].startswith("planalign run ")


def test_every_chart_is_laid_out_and_drawn(rendered: Rendered) -> None:
    charts = rendered.page["charts"]
    assert set(charts) == set(CHART_KEYS)
    for key, chart in charts.items():
        assert chart["width"] > 250 and chart["height"] > 150, (key, chart)
        assert chart["drawn"] > 20, (key, chart)
    # The results open the page; the engine detail follows, the timeline spanning the page above the rest.
    timeline = charts["timeline"]
    assert timeline["width"] > 0.8 * VIEWPORT[0]
    engine = {"timeline", "speedup", "slowest"}
    assert all(chart["top"] < timeline["top"] for key, chart in charts.items() if key not in engine)
    assert all(timeline["top"] < charts[key]["top"] for key in engine - {"timeline"})


def test_timeline_bars_are_visible_with_tooltips(rendered: Rendered, sample_run: SampleRun) -> None:
    page = rendered.page
    assert page["bars"] == len(sample_run.executed)
    assert page["visibleBars"] == page["bars"]
    assert page["tooltips"] == page["bars"]


def test_screenshot_shows_the_execution_classes_painted(rendered: Rendered) -> None:
    """Layout is not paint: the screenshot must contain each execution class's colour in quantity."""
    image = Image.open(rendered.screenshot).convert("RGB")
    width, height = image.size
    assert width >= VIEWPORT[0] and height > VIEWPORT[1]  # the whole page, not only the viewport
    colours = pixel_counts(image)
    for name, hex_colour in CLASS_COLOURS.items():
        rgb = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
        painted = sum(count for colour, count in colours.items() if close(colour, rgb))
        assert painted > 500, f"{name} ({hex_colour}) barely painted: {painted} pixels"
