"""Shared, session-scoped sample runs and their rendered reports: rendering takes a second or two, so each
report is built once and read by every test that needs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from planalign.report import write_report
from tests.fixtures.sample_run import SampleRun, build_sample_run


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> SampleRun:
    """Three years, four workers, one memory-pressure episode; the run succeeded."""
    return build_sample_run(tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="session")
def failed_run(tmp_path_factory: pytest.TempPathFactory) -> SampleRun:
    """Three planned years; 2026's state accumulation failed, so only 2025 completed."""
    return build_sample_run(tmp_path_factory.mktemp("failed-runs"), fail_year=2026, with_pressure=False)


@pytest.fixture(scope="session")
def sample_report(sample_run: SampleRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report(sample_run.run_dir, tmp_path_factory.mktemp("report") / "report.html")


@pytest.fixture(scope="session")
def failed_report(failed_run: SampleRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report(failed_run.run_dir, tmp_path_factory.mktemp("failed-report") / "report.html")


@pytest.fixture(scope="session")
def analyst_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Summary schema 2: assumptions, real-shaped terminations, nondiscrimination results."""
    from tests.report.analyst_run import build_analyst_run

    return build_analyst_run(tmp_path_factory.mktemp("analyst"))


@pytest.fixture(scope="session")
def analyst_report(analyst_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report(analyst_run, tmp_path_factory.mktemp("analyst-report") / "report.html")


@pytest.fixture(scope="session")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 scenarios x 3 years x 20 seeds' percentiles (tests/report/comparison_fixture.py)."""
    from tests.report.comparison_fixture import write_sweep_dir

    return write_sweep_dir(tmp_path_factory.mktemp("sweep"))


@pytest.fixture(scope="session")
def comparison_report(sweep_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from planalign.report.comparison import write_comparison_report

    return write_comparison_report(
        sweep_dir / "comparison.json", tmp_path_factory.mktemp("comparison") / "comparison.html"
    )
