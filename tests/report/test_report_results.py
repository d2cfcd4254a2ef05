"""The run report as the analyst reads it: results first, the assumptions in force, the terminations split
into experienced and new-hire leavers, the nondiscrimination tests; engine detail below."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from planalign.cli import main
from planalign.errors import RunDirectoryError
from planalign.report import write_report
from planalign.report.assumption_rows import parameters_in_force
from planalign.report.charts import year_charts
from planalign.report.model import load_run
from tests.report.analyst_run import LEAVERS


def _tooltips(svg: str) -> list[str]:
    return re.findall(r"<title>([^<]*)</title>", svg)


def test_terminations_chart_separates_experienced_and_new_hire_leavers(analyst_run: Path) -> None:
    """`terminations` counts new hires who left too: drawn as its own bar it read as 1,059 leavers next to
    the new-hire bar, when 818 experienced employees and 241 new hires left. The chart stacks the two parts
    and its labels say which is which."""
    report = load_run(analyst_run)
    (chart,) = [c for c in year_charts(report) if c.key == "hires-terminations"]
    tips = _tooltips(chart.svg)
    for year, (experienced, new_hire) in LEAVERS.items():
        assert f"{year}: {experienced:,} experienced terminations" in tips
        assert f"{year}: {new_hire:,} new-hire terminations" in tips
        assert f"{year}: {experienced + new_hire:,} terminations in all" in tips
    legend = re.findall(r"<text[^>]*>([^<]*)</text>", chart.svg)
    assert "experienced terminations" in legend and "new-hire terminations" in legend
    assert "terminations" not in legend  # no bar labelled as if it were one kind of leaver
    assert "stacked" in chart.caption


def _sections(document: str) -> list[str]:
    return re.findall(r'<section id="([^"]+)"', document)


def test_the_report_opens_with_results_then_assumptions_then_engine_detail(analyst_report: Path) -> None:
    order = _sections(analyst_report.read_text())
    assert order.index("results") < order.index("assumptions") < order.index("nondiscrimination")
    assert order.index("nondiscrimination") < order.index("engine-detail") < order.index("execution")


def test_assumptions_panel_shows_census_seed_match_formula_and_every_parameter(
    analyst_run: Path, analyst_report: Path
) -> None:
    document = analyst_report.read_text()
    report = load_run(analyst_run)
    a = report.assumptions
    assert a is not None and a.census_employees == 61 and a.random_seed == 1234
    panel = document[
        document.index('<section id="assumptions">') : document.index('<section id="nondiscrimination">')
    ]
    assert (
        '<span class="formula" id="match-formula">100% of the first 3% of pay, then 50% of the next 2% '
        "(up to 4% of pay)</span>" in panel
    )
    assert "<dt>census rows</dt><dd>61</dd>" in panel and "<dt>random seed</dt><dd>1234</dd>" in panel
    # the census by its file name, never the machine's path (issue #22)
    assert f"<dd>{Path(a.census_path).name}</dd>" in panel and a.census_path not in document
    assert "<dd>2025–2027</dd>" in panel
    rows = dict(
        re.findall(
            r'data-parameter="([^"]+)"><td class="text"><code>[^<]*</code></td><td class="text">([^<]*)<',
            panel,
        )
    )
    # every parameter in force; a switch that is off hides what it turns off (issue #22)
    assert set(rows) == {s.parameter.name for s in parameters_in_force(a.parameters)} and len(rows) > 30
    assert "core_contribution_schedule" not in rows and "core_contribution_graded" in rows  # graded: off
    assert rows["escalation_cap"] == "12% (0.12)"
    assert rows["auto_enrollment_enabled"] == "yes"
    assert rows["match_tiers"] == "0%–3% of pay: 100%; 3%–5% of pay: 50%"
    assert rows["vesting_schedule"].startswith("0 yr: 0%, 2 yr: 20%")


def test_nondiscrimination_section_shows_each_years_tests(analyst_report: Path) -> None:
    document = analyst_report.read_text()
    table = document[document.index('id="nondiscrimination-table"') :]
    table = table[: table.index("</table>")]
    years = dict(re.findall(r'<tr data-year="(\d{4})">(.*?)</tr>', table))
    assert set(years) == {"2025", "2026", "2027"}
    assert '<td class="text fail">FAIL</td>' in years["2026"] and "$48,210.55 (12 HCEs)" in years["2026"]
    assert "FAIL" not in years["2025"] and years["2025"].count('class="text pass"') == 2
    assert "<td>7.31%</td>" in years["2026"] and "<td>6.12%</td>" in years["2026"]  # HCE ADP and its limit
    assert years["2027"].endswith('<td class="text">yes</td>') and "<td>64%</td>" in years["2027"]
    assert "ADP/ACP failed in 2026" in document and "Top-heavy at the end of 2027." in document


def test_year_table_splits_the_leavers(analyst_report: Path) -> None:
    document = analyst_report.read_text()
    assert (
        "<th>experienced terminations</th><th>new-hire terminations</th><th>all terminations</th>" in document
    )
    assert "<td>818</td><td>241</td><td>1,059</td>" in document


def test_a_version_1_run_directory_still_reports_and_says_what_is_absent(tmp_path: Path) -> None:
    from tests.report.analyst_run import build_analyst_run

    run_dir = build_analyst_run(tmp_path, schema_version=1)
    report = load_run(run_dir)
    assert report.schema_version == 1 and report.assumptions is None and report.kind == "years"
    assert all(m.nondiscrimination is None for m in report.years.values())
    document = write_report(run_dir, tmp_path / "report.html").read_text()
    assert "written with summary schema version 1, before runs recorded their assumptions" in document
    assert "before runs recorded the nondiscrimination tests" in document
    assert 'id="chart-hires-terminations"' in document and 'id="year-table"' in document


def test_a_stage_run_report_says_it_is_a_stage_run(analyst_run: Path, tmp_path: Path) -> None:
    stage_dir = tmp_path / "stage"
    shutil.copytree(analyst_run, stage_dir)
    summary = json.loads((stage_dir / "summary.json").read_text())
    summary.update(kind="stage", stage="foundation", start_year=2026, end_year=2026, years={})
    (stage_dir / "summary.json").write_text(json.dumps(summary))
    document = write_report(stage_dir, tmp_path / "report.html").read_text()
    assert "<h1>planalign stage run " in document
    assert (
        "This is a one-stage debug run (2026 rebuilt up to the stage foundation), not a simulation"
        in document
    )


@pytest.mark.parametrize(
    ("field", "bad", "message"),
    [
        ("adp_passed", "yes", "nondiscrimination.adp_passed must be true or false"),
        ("hces", 1.5, "nondiscrimination.hces must be a whole number"),
        ("nhce_adp", "x", "nondiscrimination.nhce_adp must be a number"),
        ("adp_refunds", None, "nondiscrimination.adp_refunds must be a number"),
    ],
)
def test_malformed_nondiscrimination_is_named(
    analyst_run: Path, tmp_path: Path, field: str, bad: object, message: str
) -> None:
    crafted = tmp_path / "crafted"
    shutil.copytree(analyst_run, crafted)
    summary = json.loads((crafted / "summary.json").read_text())
    summary["years"]["2026"]["nondiscrimination"][field] = bad
    (crafted / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(RunDirectoryError, match=re.escape(f"years[2026].{message}")):
        load_run(crafted)


def test_malformed_assumptions_are_named(analyst_run: Path, tmp_path: Path) -> None:
    crafted = tmp_path / "crafted"
    shutil.copytree(analyst_run, crafted)
    summary = json.loads((crafted / "summary.json").read_text())
    del summary["assumptions"]["census"]
    (crafted / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(RunDirectoryError, match="assumptions: missing or malformed entry"):
        load_run(crafted)


def test_report_without_a_run_dir_takes_the_newest_complete_full_run(
    analyst_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A newer one-stage debug run and a newer failed run are passed over, and the command says which run
    it reports."""
    runs = tmp_path / "runs"
    full = runs / "20261201T090000000000Z-5a5a5a5a"
    shutil.copytree(analyst_run, full)
    for name, changes in {
        "20261201T100000000000Z-5a5a5a5a": {"kind": "stage", "stage": "foundation", "years": {}},
        "20261201T110000000000Z-5a5a5a5a": {"status": "failed", "error": "boom"},
    }.items():
        shutil.copytree(analyst_run, runs / name)
        summary = json.loads((runs / name / "summary.json").read_text())
        summary.update(changes)
        (runs / name / "summary.json").write_text(json.dumps(summary))
    monkeypatch.chdir(tmp_path)
    assert main(["report"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(full / "report.html")
    # the runs directory as the user knows it, relative to the working directory (issue #22)
    assert f"reporting the newest complete full run under runs: {full.name}" in captured.err
    assert not (runs / "20261201T100000000000Z-5a5a5a5a" / "report.html").exists()
    # given a stage run, it reports that one
    stage = runs / "20261201T100000000000Z-5a5a5a5a"
    assert main(["report", str(stage)]) == 0
    assert "This is a one-stage debug run" in (stage / "report.html").read_text()
