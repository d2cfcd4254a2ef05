"""The comparison report of a sweep (planalign.report.comparison): self-contained, results first (a chart
per metric with the scenarios side by side, P5–P95 bands; the employer cost table with deltas vs the
baseline), then each scenario's assumptions and the sweep's detail; comparison.json checked strictly."""

from __future__ import annotations

import copy
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from planalign.cli import main
from planalign.report.comparison import write_comparison_report
from planalign.report.comparison_charts import format_delta, format_value
from planalign.report.comparison_model import ComparisonFileError, load_comparison
from tests.report.comparison_fixture import (
    METRICS,
    SCENARIOS,
    SEEDS,
    YEARS,
    comparison_document,
    write_sweep_dir,
)

from .test_report_html import REMOTE, _parse, _svgs


def test_comparison_report_is_self_contained(comparison_report: Path) -> None:
    parsed = _parse(comparison_report)
    assert parsed.tags["script"] == 0 and parsed.tags["link"] == 0 and parsed.tags["img"] == 0
    assert not [r for r in parsed.resources if REMOTE.match(r[2]) or not r[2].startswith("#")]
    assert all(count == 1 for count in parsed.ids.values()), [i for i, n in parsed.ids.items() if n > 1]


def test_results_come_first_then_assumptions_then_sweep_detail(comparison_report: Path) -> None:
    order = re.findall(r'<section id="([^"]+)"', comparison_report.read_text())
    assert order == ["results", "assumptions", "sweep-detail"]


def test_one_chart_per_metric_with_every_scenario_and_year(comparison_report: Path) -> None:
    document = comparison_report.read_text()
    svgs = {k: v for k, v in _svgs(document).items() if k.startswith("metric-")}
    assert set(svgs) == {f"metric-{key}" for key, _, _ in METRICS}
    for key, svg in svgs.items():
        ET.fromstring(svg)  # well-formed
        tips = re.findall(r"<title>([^<]*)</title>", svg)
        assert len(tips) == len(SCENARIOS) * len(YEARS), key
        assert {t.split(" ")[0] for t in tips} == set(SCENARIOS)
        assert all("20 seeds" in t for t in tips)


def test_points_state_p50_band_and_paired_delta(comparison_report: Path) -> None:
    data = comparison_document()
    row = next(
        r
        for r in data["rows"]
        if (r["scenario"], r["metric"], r["year"]) == ("match_4pct", "employer_match", 2026)
    )
    svg = _svgs(comparison_report.read_text())["metric-employer_match"]
    expected = (
        f"match_4pct 2026: P50 {format_value('usd', row['p50'])} (P5 {format_value('usd', row['p5'])}, "
        f"P95 {format_value('usd', row['p95'])}, 20 seeds); "
        f"vs baseline {format_delta('usd', row['delta_p50'])}"
    )
    assert f"<title>{expected}</title>" in svg
    assert row["delta_p50"] > 0 and row["p5"] < row["p50"] < row["p95"]


@pytest.fixture(scope="module")
def single_seed_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The comparison report of a one-seed sweep, rendered once for the tests that read it (~2 s each)."""
    root = tmp_path_factory.mktemp("one-seed")
    one = write_sweep_dir(root, comparison_document(seeds=(7,)))
    return write_comparison_report(one / "comparison.json", root / "one.html")


def test_ensemble_bands_are_drawn_and_a_single_seed_has_none(
    comparison_report: Path, single_seed_report: Path
) -> None:
    assert "shaded P5–P95" in comparison_report.read_text()
    document = single_seed_report.read_text()
    assert "shaded P5–P95" not in document
    assert "1 seed(s)" in document


def _totals(document: str, table_id: str = "totals-table") -> dict[str, str]:
    """The rows of a table by scenario, each number's no-wrap span taken off (checked on its own)."""
    table = document[document.index(f'id="{table_id}"') :]
    table = table[: table.index("</table>")]
    numbers = re.findall(r"<td[^>]*>([−+±]?\$?[0-9][^<]*)</td>", table)
    assert not numbers, f"numbers that may wrap from their sign: {numbers[:3]}"
    plain = re.sub(r'<span class="num">(.*?)</span>', r"\1", table)
    return dict(re.findall(r'<tr data-scenario="([^"]+)">(.*?)</tr>', plain))


def test_totals_table_gives_cumulative_and_present_value_cost_with_deltas(comparison_report: Path) -> None:
    data = comparison_document()
    rows = _totals(comparison_report.read_text())
    assert list(rows) == list(SCENARIOS)
    for total in data["totals"]:
        cells = rows[total["scenario"]]
        assert f"<td>{format_value('usd', total['p50'])}</td>" in cells
        assert f"{format_value('usd', total['p5'])} – {format_value('usd', total['p95'])}" in cells
        if total["scenario"] == "baseline":
            assert "baseline" in cells
        else:
            assert format_delta("usd", total["delta_p50"]) in cells and 'class="delta delta-up"' in cells
    pv = {t["scenario"]: t["p50"] for t in data["totals"] if t["metric"] == "pv_employer_cost"}
    cumulative = {
        t["scenario"]: t["p50"] for t in data["totals"] if t["metric"] == "cumulative_employer_cost"
    }
    assert all(pv[s] < cumulative[s] for s in SCENARIOS)  # discounted at 5%


def test_assumptions_per_scenario_highlight_the_overrides(comparison_report: Path) -> None:
    document = comparison_report.read_text()
    panel = document[
        document.index('<section id="assumptions">') : document.index('<section id="sweep-detail">')
    ]
    blocks = dict(re.findall(r'<div class="scenario" data-scenario="([^"]+)">(.*?)</div>', panel, re.S))
    assert list(blocks) == list(SCENARIOS)
    assert "100% of the first 4% of pay (up to 4% of pay)" in blocks["match_4pct"]
    assert "Overrides: match_cap_rate, match_tiers" in blocks["match_4pct"]
    overridden = re.findall(r'<tr class="override" data-parameter="([^"]+)">', blocks["match_4pct"])
    assert overridden == ["match_cap_rate", "match_tiers"]
    assert re.findall(r'<tr class="override"', blocks["baseline"]) == []
    assert "Overrides: none (the baseline configuration)" in blocks["baseline"]
    assert "<dt>census rows</dt><dd>5,000</dd>" in panel and "<dt>discount rate</dt><dd>5%</dd>" in panel


def test_sweep_detail_lists_the_members(comparison_report: Path) -> None:
    document = comparison_report.read_text()
    detail = document[document.index('<section id="sweep-detail">') :]
    assert f"{len(SCENARIOS) * len(SEEDS)} members (scenario × seed)" in detail
    assert '<td class="text">match_4pct__s20</td>' in detail
    assert "<dt>config digest</dt><dd>0123abcd</dd>" in detail


def _broken(doc: dict[str, Any], where: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    target: Any = doc
    *path, last = where.split(".")
    for part in path:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is KeyError:
        del target[int(last) if last.isdigit() else last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return doc


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        ("schema_version", 2, "schema_version 2; this planalign reads comparison files of version 1"),
        ("sweep", KeyError, "sweep must be an object"),
        ("sweep.baseline", "nope", "sweep.baseline 'nope' is not one of the scenarios"),
        ("metrics.0.unit", "euro", "metrics[0].unit 'euro' is not one of"),
        ("rows.0.scenario", "ghost", "rows[0].scenario 'ghost' is not one of"),
        ("rows.0.year", 2031, "rows[0].year 2031 is not one of the sweep's years"),
        ("rows.0.p50", "1", "rows[0].p50 must be a finite number"),
        ("rows.0.p5", 1e30, "rows[0] percentiles must satisfy p5 <= p50 <= p95"),
        ("rows.0.n", 0, "rows[0].n must be at least 1"),
        ("totals.0.metric", "cost", "totals[0].metric 'cost' is not one of"),
        ("sweep.years", [], "sweep.years must list at least one year"),
    ],
)
def test_a_bad_comparison_file_is_named_and_nothing_is_written(
    tmp_path: Path, where: str, value: Any, message: str
) -> None:
    sweep = write_sweep_dir(tmp_path, _broken(comparison_document(seeds=(1, 2)), where, value))
    out = tmp_path / "out.html"
    with pytest.raises(ComparisonFileError, match=re.escape(message)):
        write_comparison_report(sweep / "comparison.json", out)
    assert not out.exists()


def test_a_missing_or_unparsable_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ComparisonFileError, match="planalign scenarios compare"):
        load_comparison(tmp_path / "comparison.json")
    (tmp_path / "comparison.json").write_text("{")
    with pytest.raises(ComparisonFileError, match="not valid JSON"):
        load_comparison(tmp_path / "comparison.json")


PAYLOAD = '"><script>alert(1)</script>'
DESCRIPTION = "Three designs for the <2027> plan year"


@pytest.fixture(scope="module")
def described_report(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One rendering (~2 s) for two tests: a sweep with a description, and hostile text in its name, a
    scenario's description and match formula, and a metric's label."""
    doc = comparison_document(seeds=(1, 2))
    doc["sweep"]["description"] = DESCRIPTION
    doc["sweep"]["scenarios"][1]["description"] = PAYLOAD
    doc["sweep"]["scenarios"][1]["match_formula"] = PAYLOAD
    doc["sweep"]["name"] = PAYLOAD
    doc["metrics"][0]["label"] = PAYLOAD
    root = tmp_path_factory.mktemp("described")
    sweep = write_sweep_dir(root, doc)
    return write_comparison_report(sweep / "comparison.json", root / "out.html").read_text()


def test_text_from_the_sweep_is_escaped(described_report: str) -> None:
    assert "<script" not in described_report and described_report.count("&lt;script&gt;") >= 4


def test_report_command_writes_a_sweeps_comparison_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sweep = write_sweep_dir(tmp_path, comparison_document(seeds=(1, 2)))
    assert main(["report", str(sweep)]) == 0
    assert capsys.readouterr().out.strip() == str(sweep / "comparison.html")
    assert "planalign comparison plan_designs" in (sweep / "comparison.html").read_text()
    (sweep / "comparison.json").write_text(json.dumps({"schema_version": 9}))
    assert main(["report", str(sweep), "--out", str(tmp_path / "x.html")]) == 2
    assert "schema_version 9" in capsys.readouterr().err and not (tmp_path / "x.html").exists()


def test_the_report_says_what_the_range_covers_and_what_it_leaves_out(
    comparison_report: Path, single_seed_report: Path
) -> None:
    """Issue #20.3: a P5–P95 band read as "how sure we are"; the report says in words that it is seed
    noise under fixed assumptions, names what it leaves out, and says there is no range with one seed."""
    text = re.sub(r"\s+", " ", html_text(comparison_report.read_text()))
    assert "spread over 20 random seeds under the stated assumptions" in text
    assert "not a confidence interval" in text
    assert "leaves out uncertainty in the assumptions themselves" in text
    results = comparison_report.read_text().split('<section id="results">')[1].split("</section>")[0]
    assert 'id="what-the-range-covers"' in results  # beside the results, not in an appendix
    single = html_text(single_seed_report.read_text())
    assert "there is no range" in re.sub(r"\s+", " ", single)


def html_text(document: str) -> str:
    import html as html_module

    return html_module.unescape(re.sub(r"<[^>]+>", " ", document))


def test_the_answer_states_each_designs_difference_before_any_chart(comparison_report: Path) -> None:
    """Issue #22.1: per design, its employer cost difference over the years with P5–P95 and at present
    value, and its participation, deferral and employee contribution differences, above the first chart."""
    document = comparison_report.read_text()
    data = comparison_document()
    first_chart = document.index("<figure")
    assert document.index('id="answer-table"') < first_chart
    totals = {(t["scenario"], t["metric"]): t for t in data["totals"]}
    rows = {(r["scenario"], r["metric"], r["year"]): r for r in data["rows"]}
    last = YEARS[-1]
    answer = _totals(document, "answer-table")
    assert list(answer) == list(SCENARIOS)
    for name in SCENARIOS[1:]:
        cumulative, pv = totals[(name, "cumulative_employer_cost")], totals[(name, "pv_employer_cost")]
        cells = answer[name]
        assert format_delta("usd", cumulative["delta_p50"]) in cells
        assert (
            f"{format_delta('usd', cumulative['delta_p5'])} to {format_delta('usd', cumulative['delta_p95'])}"
            in cells
        )
        assert format_delta("usd", pv["delta_p50"]) in cells
        for metric, unit in (
            ("participation_rate", "rate"),
            ("average_deferral_rate", "rate"),
            ("employee_contributions", "usd"),
        ):
            assert format_delta(unit, rows[(name, metric, last)]["delta_p50"]) in cells, (name, metric)
        sentence = re.search(rf'<p class="answer-line" data-scenario="{name}">(.*?)</p>', document)
        assert sentence is not None and document.index(sentence.group(0)) < first_chart
        text = re.sub(r"<[^>]+>", "", sentence.group(1))
        amount = format_value("usd", abs(cumulative["delta_p50"]))
        assert f"{name} costs the employer {amount} more than baseline over 2025–2027" in text, text
    # The baseline's own levels, for scale.
    assert format_value("usd", totals[("baseline", "cumulative_employer_cost")]["p50"]) in answer["baseline"]
    assert 'id="limitations"' in document[:first_chart]


def test_metrics_no_design_changes_are_folded_and_say_so(comparison_report: Path) -> None:
    document = comparison_report.read_text()
    folded = document[document.index('id="unchanged-metrics"') :]
    folded = folded[: folded.index("</details>")]
    assert "Not changed by plan design in this sweep" in folded
    for key in ("actives", "hires", "terminations", "employer_core", "payroll"):
        assert f'data-chart="metric-{key}"' in folded, key
    for key in ("employer_match", "employer_cost", "participation_rate"):
        assert f'data-chart="metric-{key}"' not in folded, key
    # The differences to the baseline are charted from zero for the key metrics.
    for key in ("employer_cost", "participation_rate", "average_deferral_rate", "employee_contributions"):
        assert f'data-chart="delta-{key}"' in document, key


def test_the_sweeps_description_is_shown_under_its_name(described_report: str) -> None:
    header = described_report[described_report.index("<header>") : described_report.index("</header>")]
    assert "Three designs for the &lt;2027&gt; plan year" in header
