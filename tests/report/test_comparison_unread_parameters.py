"""A sweep whose designs' parameters could not be read from its database (sweep.json's `assumptions_error`)
states why in the comparison report, not an empty list that reads as "no parameters"."""

from __future__ import annotations

from html import escape
from pathlib import Path

from planalign.report.comparison import write_comparison_report
from tests.report.comparison_fixture import comparison_document, write_sweep_dir

REASON = "sweep.duckdb holds no parameters of scenario baseline (int_effective_parameter_values)"


def test_a_design_without_recorded_parameters_says_why(tmp_path: Path) -> None:
    document = comparison_document()
    first = document["sweep"]["scenarios"][0]
    first.update(parameters=None, match_formula=None, assumptions_error=REASON)
    sweep_dir = write_sweep_dir(tmp_path, document)
    html = write_comparison_report(sweep_dir / "comparison.json", tmp_path / "c.html").read_text()
    assert f"Parameters in force not recorded: {escape(REASON)}" in html
    assert html.count("Parameters in force not recorded") == 1  # only the design without them
