"""Reports an analyst can hand a plan sponsor (issue #22 item 2): a title, the client and the preparer, the
date prepared in words, no machine paths, money with `$`, the run report's cost block, print styles, and an
assumptions table that says truthfully where each value came from and leaves out what a switch turned off.

Fast: rendered from the hand-made analyst run (tests/report/analyst_run.py) with a known cost per year; the
browser checks (print media, the cost block at 1400 and 800 px) share one rendered file.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from datetime import date
from pathlib import Path

import pytest

from planalign.cli import main
from planalign.report.assumption_rows import parameters_in_force
from planalign.report.client import date_words, money, when_words
from planalign.report.html import render_html, write_report
from planalign.report.model import load_run
from planalign.simulation.assumptions import Parameter
from planalign.simulation.run_directory import YearCost
from planalign.simulation.run_labels import LABELS_FILE, LabelError, ReportLabels, check_label, write_labels

#: Per year: (enrolled, payroll, core, employer cost); the match is the analyst run's own.
COSTS = {
    2025: (700, 52_400_000.0, 0.0, 1_180_000.0),
    2026: (730, 54_100_000.0, 0.0, 1_236_500.75),
    2027: (760, 55_900_000.0, 0.0, 1_301_000.0),
}
PREPARED = date(2026, 12, 7)


@pytest.fixture(scope="module")
def costed_run(analyst_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The analyst run with each year's cost recorded, as the simulation now writes it."""
    run_dir = tmp_path_factory.mktemp("costed") / analyst_run.name
    shutil.copytree(analyst_run, run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    for key, (enrolled, payroll, core, cost) in COSTS.items():
        summary["years"][str(key)]["cost"] = dataclasses.asdict(YearCost(enrolled, payroll, core, cost))
    (run_dir / "summary.json").write_text(json.dumps(summary))
    write_labels(run_dir, ReportLabels(name="three years, <seed> 1234"))
    return run_dir


@pytest.fixture(scope="module")
def document(costed_run: Path) -> str:
    labels = ReportLabels.checked(
        title="401(k) projection & <plan>", client="Acme Corp", prepared_by="Plan Team"
    )
    return render_html(load_run(costed_run), labels=labels, prepared_on=PREPARED)


def _text(fragment: str) -> str:
    return re.sub(r"<[^>]+>", " ", fragment)


def test_the_header_carries_title_client_preparer_and_the_date_in_words(document: str) -> None:
    assert "<title>401(k) projection &amp; &lt;plan&gt;</title>" in document
    header = document[document.index("<header>") : document.index("</header>")]
    assert "Prepared for" in header and 'id="client">Acme Corp<' in header
    assert 'id="prepared-by">Plan Team<' in header and 'id="prepared-on">7 December 2026<' in header
    assert "run three years, &lt;seed&gt; 1234" in header  # the run's stored name, escaped
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", _text(header)), "a raw ISO timestamp in the header"


def test_a_message_loses_its_directories_not_its_words() -> None:
    from planalign.report.client import without_machine_paths

    text = "the database /tmp/x/run 1/sim.duckdb does not exist; 50%/year, a/b and 'C:/x' stay"
    cut = "the database sim.duckdb does not exist; 50%/year, a/b and 'C:/x' stay"
    assert without_machine_paths(text, ["/tmp/x/run 1/sim.duckdb"]) == cut
    assert without_machine_paths("in /srv/data/c.duckdb.") == "in c.duckdb."
    assert without_machine_paths("moved from '/home/ana/db.duckdb'.") == "moved from 'db.duckdb'."


def test_no_machine_path_anywhere_in_the_report(document: str, costed_run: Path) -> None:
    summary = json.loads((costed_run / "summary.json").read_text())
    census = summary["assumptions"]["census"]["path"]
    assert census.startswith("/")
    assert census not in document and Path(census).name in document
    assert str(costed_run.parent) not in document
    assert not re.search(r"(/tmp/|/home/|/root/|/work/)", document)


def test_the_cost_block_comes_first_with_money_rates_and_the_cumulative_total(
    document: str, costed_run: Path
) -> None:
    assert document.index('id="cost"') < document.index('id="results"')
    summary = json.loads((costed_run / "summary.json").read_text())
    load_run_metrics(document)  # the year table shows its money with $
    table = document[
        document.index('id="cost-table"') : document.index("</table>", document.index('id="cost-table"'))
    ]
    rows = re.findall(r'<tr data-year="(\d{4})">(.*?)</tr>', table)
    assert [int(y) for y, _ in rows] == [2025, 2026, 2027]
    cells = {int(y): re.findall(r"<td[^>]*>(.*?)</td>", row) for y, row in rows}
    cumulative = 0.0
    for year, (enrolled, payroll, _core, cost) in COSTS.items():
        cumulative += cost
        match = summary["years"][str(year)]["employer_match"]
        c = cells[year]
        assert c[1] == money(cost) and c[3] == money(payroll) and c[5] == f"{enrolled:,}"
        assert c[4] == f"{match / payroll * 100:.2f}%"
        assert c[6] == money(cost / enrolled) and c[7] == money(cumulative)
    total = sum(cost for *_, cost in COSTS.values())
    assert money(total) == "$3,717,501"
    assert f'Employer cost over 2025–2027: <strong class="num">{money(total)}</strong>' in document


def load_run_metrics(document: str) -> dict[int, float]:
    """The employer match per year as the year table shows it ($, whole dollars), for the cost block's %."""
    table = document[document.index('id="year-table"') :]
    rows = re.findall(r"<tr><td>(\d{4})</td>(.*?)</tr>", table[: table.index("</table>")])
    out = {}
    for year, row in rows:
        last = re.findall(r"<td[^>]*>(.*?)</td>", row)[-1]
        assert last.startswith("$"), f"the year table shows money without $: {last}"
        out[int(year)] = float(last.lstrip("$").replace(",", ""))
    return out


def test_a_run_without_recorded_cost_says_so(analyst_report: Path) -> None:
    text = analyst_report.read_text()
    assert 'id="cost"' in text and "does not record the employer cost" in text


def test_participation_is_of_active_employees(document: str) -> None:
    assert "Share of active employees enrolled" in document and "eligible employees enrolled" not in document


def test_print_styles_hide_engine_detail_and_break_before_the_appendices(document: str) -> None:
    css = document[document.index("@media print") :]
    assert re.search(r"#engine-detail[^{]*\{ display: none", css)
    assert re.search(r"#assumptions, #nondiscrimination[^{]*\{ break-before: page", css)


# ----------------------------------------------------------------------------------------------------------
# Labels: checked where they enter
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, problem",
    [("", "must not be empty"), ("x" * 121, "at most 120"), ("Acme\nCorp", "control character"),
     ("Acme\x1b[2J", "control character"), ("   ", "must not be empty")],
)  # fmt: skip
def test_a_bad_label_is_refused_naming_the_flag(value: str, problem: str) -> None:
    with pytest.raises(LabelError, match=problem) as caught:
        check_label("--client", value)
    assert "--client" in str(caught.value)


def test_report_refuses_a_bad_title_with_exit_2_and_writes_nothing(
    costed_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.html"
    assert main(["report", str(costed_run), "--out", str(out), "--title", "a\x07b"]) == 2
    assert "--title" in capsys.readouterr().err and not out.exists()


def test_report_flags_win_over_the_stored_name(costed_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    assert main(["report", str(costed_run), "--out", str(out), "--client", "Globex"]) == 0
    text = out.read_text()
    assert 'id="client">Globex<' in text and "<title>three years, &lt;seed&gt; 1234</title>" in text


def test_an_edited_labels_file_is_a_clear_error(costed_run: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / costed_run.name
    shutil.copytree(costed_run, run_dir)
    (run_dir / LABELS_FILE).write_text(json.dumps({"name": "x\x1b[31m"}))
    assert main(["report", str(run_dir), "--out", str(tmp_path / "r.html")]) == 2
    assert not (tmp_path / "r.html").exists()


def test_the_dates_read_as_words() -> None:
    assert date_words(date(2026, 1, 5)) == "5 January 2026"
    assert when_words("2026-12-07T16:53:35.123456Z") == "7 December 2026, 16:53 UTC"
    assert when_words(None) == "not recorded" and when_words("yesterday") == "yesterday"
    assert money(-4463418.4) == "−$4,463,418" and money(0.4) == "$0"


# ----------------------------------------------------------------------------------------------------------
# The assumptions table: truthful sources, switched-off parameters left out
# ----------------------------------------------------------------------------------------------------------


def _p(name: str, value: object, source: str = "config") -> Parameter:
    kind = "bool" if isinstance(value, bool) else "float"
    return Parameter(name, "s", kind, value, source, "")  # type: ignore[arg-type]


def test_a_switch_that_is_off_hides_what_it_turns_off_and_says_so() -> None:
    params = [
        _p("escalation_enabled", False),
        _p("escalation_increment", 0.01),
        _p("escalation_cap", 0.1, "environment"),
        _p("auto_enrollment_enabled", True, "flag"),
        _p("auto_enrollment_default_deferral_rate", 0.06),
        _p("account_balances_deterministic_returns", True),
        _p("account_balances_return_volatility", 0.1),
    ]
    shown = {s.parameter.name: s for s in parameters_in_force(params)}
    assert "escalation_increment" not in shown and "escalation_cap" not in shown
    assert "escalation_increment, escalation_cap" in shown["escalation_enabled"].note
    assert "auto_enrollment_default_deferral_rate" in shown  # its switch is on
    assert shown["auto_enrollment_enabled"].source == "command-line flag"
    assert "account_balances_return_volatility" not in shown  # deterministic returns: no volatility


def test_the_report_names_environment_and_flag_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bug: an environment variable's and a flag's value were labelled "config"."""
    from planalign.simulation.config_loading import load_simulation_config
    from tests.seed_assumptions import resolve_assumptions

    repo = Path(__file__).resolve().parents[2]
    monkeypatch.setenv("PLANALIGN_WORKFORCE__TOTAL_TERMINATION_RATE", "0.11")
    config = load_simulation_config(
        repo / "simulation_config.yaml", overrides={"escalation.cap": 0.09}, check_files=False
    )
    a = resolve_assumptions(config, census_employees=10)
    assert a.parameter("total_termination_rate").source == "environment"
    assert a.parameter("escalation_cap").source == "flag"
    assert a.parameter("cola_rate").source == "config"
    shown = {s.parameter.name: s.source for s in parameters_in_force(a.parameters)}
    assert shown["total_termination_rate"] == "environment variable" and shown["cola_rate"] == "config file"


# ----------------------------------------------------------------------------------------------------------
# In a browser: print media, and the cost block at 1400 and 800 px
# ----------------------------------------------------------------------------------------------------------

PRINT_INSPECT = """
(() => {
  const style = id => { const el = document.getElementById(id); return el ? getComputedStyle(el) : {}; };
  const shown = id => style(id).display || null;
  const br = id => style(id).breakBefore || null;
  return {print: matchMedia('print').matches, engine: shown('engine-detail'), cost: shown('cost'),
          assumptions: br('assumptions'), nondiscrimination: br('nondiscrimination'),
          header: getComputedStyle(document.querySelector('header')).backgroundColor};
})()
"""

LAYOUT_INSPECT = """
(() => {
  const table = document.getElementById('cost-table');
  const box = table.getBoundingClientRect();
  const cells = [...table.querySelectorAll('td.money')];
  const lineHeights = cells.map(c => c.getBoundingClientRect().height);
  return {right: box.right, top: box.top + window.scrollY,
          results: document.getElementById('results').getBoundingClientRect().top + window.scrollY,
          cellHeights: lineHeights};
})()
"""


@pytest.fixture(scope="module")
def written(costed_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("client-report") / "report.html"
    labels = ReportLabels(title="Acme 401(k)", client="Acme Corp", prepared_by="Plan Team")
    return write_report(costed_run, out, labels=labels, prepared_on=PREPARED)


@pytest.mark.browser
def test_printing_leaves_out_the_engine_and_starts_each_appendix_on_a_page(written: Path) -> None:
    from tests.report.browser_support import chromium_or_skip
    from tests.report.chromium_cdp import Chromium

    with Chromium(chromium_or_skip()) as browser:
        browser.open_page(1400, 1000)
        browser.load(written.resolve().as_uri())
        screen = browser.evaluate(PRINT_INSPECT)
        browser.send("Emulation.setEmulatedMedia", {"media": "print"}, session=True)
        printed = browser.evaluate(PRINT_INSPECT)
        pdf = browser.send("Page.printToPDF", {"printBackground": False}, session=True, timeout_s=120)
    assert not screen["print"] and screen["engine"] == "block" and screen["assumptions"] != "page"
    assert printed["print"] and printed["engine"] == "none" and printed["cost"] == "block"
    assert printed["assumptions"] == "page" and printed["nondiscrimination"] == "page"
    assert printed["header"] in {"rgb(255, 255, 255)", "rgba(0, 0, 0, 0)"}
    assert pdf.get("data"), "Chromium printed no PDF"


@pytest.mark.browser
@pytest.mark.parametrize("width", [1400, 800])
def test_the_cost_block_fits_and_no_amount_wraps(written: Path, width: int) -> None:
    from tests.report.browser_support import chromium_or_skip
    from tests.report.chromium_cdp import Chromium

    with Chromium(chromium_or_skip()) as browser:
        browser.open_page(width, 1000)
        browser.load(written.resolve().as_uri())
        page = browser.evaluate(LAYOUT_INSPECT)
    assert page["right"] <= width, "the cost table runs off the page"
    assert page["top"] < page["results"] and page["top"] < 1000, "the cost block is not on the first screen"
    single = min(page["cellHeights"])
    assert all(h <= single * 1.5 for h in page["cellHeights"]), f"an amount wraps: {page['cellHeights']}"


# ----------------------------------------------------------------------------------------------------------
# The comparison report: the scenario file's labels, no paths
# ----------------------------------------------------------------------------------------------------------


def _sweep_with(sweep_dir: Path, tmp_path: Path, **labels: str) -> Path:
    comparison = json.loads((sweep_dir / "comparison.json").read_text())
    comparison["sweep"].update(labels)
    comparison["sweep"]["database"] = "/home/analyst/work/scenarios.duckdb"
    path = tmp_path / "comparison.json"
    path.write_text(json.dumps(comparison))
    return path


def test_the_comparison_report_carries_the_scenario_files_labels(sweep_dir: Path, tmp_path: Path) -> None:
    from planalign.report.comparison import write_comparison_report

    source = _sweep_with(sweep_dir, tmp_path, title="Match redesign <draft>", client="Acme Corp")
    text = write_comparison_report(source, tmp_path / "c.html", prepared_on=PREPARED).read_text()
    assert "<h1>Match redesign &lt;draft&gt;</h1>" in text and 'id="client">Acme Corp<' in text
    assert 'id="prepared-on">7 December 2026<' in text
    assert "/home/analyst" not in text and "scenarios.duckdb" in text
    flagged = write_comparison_report(
        source, tmp_path / "d.html", labels=ReportLabels(client="Globex"), prepared_on=PREPARED
    ).read_text()
    assert 'id="client">Globex<' in flagged and "<h1>Match redesign &lt;draft&gt;</h1>" in flagged


def test_an_edited_label_in_a_sweep_record_is_refused(sweep_dir: Path, tmp_path: Path) -> None:
    from planalign.report.comparison import write_comparison_report
    from planalign.report.comparison_model import ComparisonFileError

    source = _sweep_with(sweep_dir, tmp_path, title="x\x1b[2Jy")
    with pytest.raises(ComparisonFileError, match=r"sweep\.title"):
        write_comparison_report(source, tmp_path / "c.html")
    assert not (tmp_path / "c.html").exists()
