"""The HTML document: self-contained, every chart present and well-formed, content matching the run; the
`planalign report` command."""

from __future__ import annotations

import re
import stat
import xml.etree.ElementTree as ET
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from planalign.cli import main
from planalign.errors import ReportOutputError
from planalign.report import write_report
from tests.fixtures.sample_run import FAILING_MODEL, SampleRun

CHART_KEYS = (
    "timeline",
    "speedup",
    "slowest",
    "headcount",
    "hires-terminations",
    "avg-compensation",
    "participation",
    "employee-contributions",
    "employer-match",
)

#: Attributes through which a document loads something.
RESOURCE_ATTRIBUTES = {"src", "href", "xlink:href", "srcset", "poster", "data", "action", "background"}
REMOTE = re.compile(r"^\s*(https?:|ftp:|//)", re.IGNORECASE)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: Counter[str] = Counter()
        self.resources: list[tuple[str, str, str]] = []
        self.ids: Counter[str] = Counter()
        self.style_text: list[str] = []
        self.inline_styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        self._in_style = tag == "style"
        for name, value in attrs:
            if value is None:
                continue
            if name in RESOURCE_ATTRIBUTES:
                self.resources.append((tag, name, value))
            if name == "id":
                self.ids[value] += 1
            if name == "style":
                self.inline_styles.append(value)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style_text.append(data)


def _parse(path: Path) -> _Collector:
    collector = _Collector()
    collector.feed(path.read_text(encoding="utf-8"))
    collector.close()
    return collector


def _svgs(document: str) -> dict[str, str]:
    """Each chart's inline SVG, keyed by chart."""
    found = re.findall(
        r'<figure class="chart" id="chart-([^"]+)" data-chart="[^"]+">(<svg.*?</svg>)', document, re.S
    )
    return dict(found)


def test_report_loads_nothing_from_the_network(sample_report: Path) -> None:
    parsed = _parse(sample_report)
    remote = [r for r in parsed.resources if REMOTE.match(r[2])]
    assert remote == []
    assert parsed.tags["script"] == 0  # no JavaScript at all: nothing to fetch, nothing to fail
    assert parsed.tags["link"] == 0 and parsed.tags["iframe"] == 0 and parsed.tags["img"] == 0
    css = "\n".join(parsed.style_text + parsed.inline_styles)
    assert "@import" not in css and "@font-face" not in css
    assert not re.search(r"url\(\s*['\"]?(https?:|//)", css)
    # Internal references only: every href is a fragment of this document.
    assert all(value.startswith("#") for _, name, value in parsed.resources if name.endswith("href"))


def test_every_chart_is_present_and_well_formed_svg(sample_report: Path) -> None:
    svgs = _svgs(sample_report.read_text(encoding="utf-8"))
    assert set(svgs) == set(CHART_KEYS)
    for key, svg in svgs.items():
        root = ET.fromstring(svg)  # raises if the id rewriting broke the markup
        assert root.tag == "{http://www.w3.org/2000/svg}svg", key
        assert len(list(root.iter())) > 20, key


def test_element_ids_are_unique_across_the_inlined_charts(sample_report: Path) -> None:
    ids = _parse(sample_report).ids
    duplicated = [name for name, count in ids.items() if count > 1]
    assert duplicated == []
    document = sample_report.read_text(encoding="utf-8")
    for target in set(re.findall(r'(?:url\(#|href="#)([^)"]+)', document)):
        assert target in ids, f"dangling reference to #{target}"


def test_timeline_has_one_bar_with_a_tooltip_per_execution(
    sample_run: SampleRun, sample_report: Path
) -> None:
    svg = _svgs(sample_report.read_text(encoding="utf-8"))["timeline"]
    root = ET.fromstring(svg)
    ns = {"svg": "http://www.w3.org/2000/svg"}
    bars = [
        g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("id", "").startswith("timeline-exec-")
    ]
    assert len(bars) == len(sample_run.executed)
    titles = [g.findtext("svg:title", namespaces=ns) or "" for g in bars]
    expected = Counter(r.name for r in sample_run.executed)
    assert Counter(t.split(" · ")[0] for t in titles) == expected
    assert all(g.find("svg:path", ns) is not None for g in bars)
    retried = [t for t in titles if "2 attempts" in t]
    assert len(retried) == len(sample_run.years)  # the sample retries one model every year


def test_timeline_marks_the_watchdog_events(sample_run: SampleRun, sample_report: Path) -> None:
    svg = _svgs(sample_report.read_text(encoding="utf-8"))["timeline"]
    root = ET.fromstring(svg)
    ns = {"svg": "http://www.w3.org/2000/svg"}
    markers = [
        g
        for g in root.iter("{http://www.w3.org/2000/svg}g")
        if g.get("id", "").startswith("timeline-watchdog-")
    ]
    titles = sorted(g.findtext("svg:title", namespaces=ns) or "" for g in markers)
    source = [e for run in sample_run.engine_runs for e in run.pressure_events]
    assert len(titles) == len(source) == 2
    assert any("pressure:" in t and "limit 4→1" in t for t in titles)
    assert any("relieved:" in t and "limit 1→4" in t for t in titles)
    assert "memory pressure" in svg and "concurrency limit" in svg


def test_timeline_shows_the_data_tests_between_stages(sample_run: SampleRun, sample_report: Path) -> None:
    svg = _svgs(sample_report.read_text(encoding="utf-8"))["timeline"]
    root = ET.fromstring(svg)
    ns = {"svg": "http://www.w3.org/2000/svg"}
    steps = [
        g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("id", "").startswith("timeline-step-")
    ]
    titles = [g.findtext("svg:title", namespaces=ns) or "" for g in steps]
    assert [t.split(" · ")[0] for t in titles] == [f"{year}:validation_tests" for year in sample_run.years]
    assert all("dbt tests" in t for t in titles)


def test_tables_carry_the_runs_and_the_yearly_results(sample_run: SampleRun, sample_report: Path) -> None:
    document = sample_report.read_text(encoding="utf-8")
    stage_table = re.search(r'<table id="stage-table">.*?</table>', document, re.S)
    assert stage_table is not None
    for run in sample_run.engine_runs:
        assert f">{run.label}<" in stage_table.group(0)
    year_table = re.search(r'<table id="year-table">.*?</table>', document, re.S)
    assert year_table is not None
    for year, metrics in sample_run.summary.years.items():
        assert (
            f"<td>{year}</td><td>{metrics.actives:,.0f}</td><td>{metrics.hires:,.0f}</td>"
            in year_table.group(0)
        )


def test_failed_run_shows_its_error_and_the_failed_model(failed_report: Path) -> None:
    document = failed_report.read_text(encoding="utf-8")
    assert 'class="badge status-failed"' in document
    error = re.search(r'<section id="run-error">.*?</section>', document, re.S)
    assert error is not None and FAILING_MODEL in error.group(0)
    timeline = _svgs(document)["timeline"]
    assert re.search(rf"<title>{FAILING_MODEL} · 2026 state_accumulation · [^<]* · error", timeline)


def test_report_without_engine_runs_says_so(sample_run: SampleRun, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "summary.json").write_text((sample_run.run_dir / "summary.json").read_text())
    document = write_report(run_dir, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "no engine_runs.json" in document
    assert set(_svgs(document)) == set(CHART_KEYS) - {"timeline", "speedup", "slowest"}


def test_write_report_replaces_an_old_report_and_makes_it_readable(
    sample_run: SampleRun, tmp_path: Path
) -> None:
    out = tmp_path / "nested" / "dir" / "report.html"
    out.parent.mkdir(parents=True)
    out.write_text("old")
    assert write_report(sample_run.run_dir, out) == out
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]  # no temporary file left behind


def test_unwritable_output_is_a_report_output_error(sample_run: SampleRun, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ReportOutputError, match="cannot write the report"):
        write_report(sample_run.run_dir, blocker / "report.html")


# --- the command ------------------------------------------------------------------------------------------


def test_report_command_writes_into_the_run_directory_by_default(
    sample_run: SampleRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "copy"
    run_dir.mkdir()
    for name in ("summary.json", "engine_runs.json", "config.json"):
        (run_dir / name).write_bytes((sample_run.run_dir / name).read_bytes())
    assert main(["report", str(run_dir)]) == 0
    assert (run_dir / "report.html").is_file()
    assert capsys.readouterr().out.strip() == str(run_dir / "report.html")


def test_report_command_out_may_be_a_file_or_a_directory(sample_run: SampleRun, tmp_path: Path) -> None:
    assert main(["report", str(sample_run.run_dir), "--out", str(tmp_path / "x" / "mine.html")]) == 0
    assert (tmp_path / "x" / "mine.html").is_file()
    assert main(["report", str(sample_run.run_dir), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "report.html").is_file()


@pytest.mark.parametrize("make", ["missing", "empty", "bad-json"])
def test_report_command_rejects_a_bad_run_directory_with_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: str
) -> None:
    run_dir = tmp_path / "run"
    if make != "missing":
        run_dir.mkdir()
    if make == "bad-json":
        (run_dir / "summary.json").write_text("{")
    assert main(["report", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(run_dir) in err
    assert not (run_dir / "report.html").exists()


def test_report_command_without_a_run_needs_one_to_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without RUN_DIR the report takes the newest complete full run; with none, it says so (exit 2)."""
    monkeypatch.chdir(tmp_path)
    assert main(["report"]) == 2
    assert "no run directories under" in capsys.readouterr().err


PAYLOAD = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
#: Keys whose values are free text in a run directory (anything else must parse: statuses, timestamps).
FREE_TEXT_KEYS = {"run_id", "error", "name", "unique_id", "label", "run_label", "reason", "execution_class",
                  "stage", "fallbacks", "safety_warnings", "database_note", "message"}  # fmt: skip


def _poison(value: object, key: str | None = None) -> object:
    if isinstance(value, dict):
        return {k: _poison(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_poison(v, key) for v in value]
    if isinstance(value, str) and key in FREE_TEXT_KEYS:
        return value + PAYLOAD
    return value


def test_every_value_from_the_run_directory_is_escaped(sample_run: SampleRun, tmp_path: Path) -> None:
    """A run directory comes from anywhere (a colleague's machine, an archive): markup in any of its text
    fields, the run's status included, must reach the page as text, never as an element."""
    import json
    import shutil

    crafted = tmp_path / "crafted"
    shutil.copytree(sample_run.run_dir, crafted)
    for name in ("summary.json", "engine_runs.json"):
        path = crafted / name
        path.write_text(json.dumps(_poison(json.loads(path.read_text()))))
    summary = json.loads((crafted / "summary.json").read_text())
    summary["status"] = PAYLOAD
    summary["parallelization"] = {"enabled": True, "max_workers": PAYLOAD}
    (crafted / "summary.json").write_text(json.dumps(summary))

    document = write_report(crafted, tmp_path / "report.html").read_text()
    assert "<script" not in document.lower()
    assert "<img" not in document.lower()
    assert document.count("&lt;script&gt;") >= 5  # shown, as text, in the header, tables and tooltips
