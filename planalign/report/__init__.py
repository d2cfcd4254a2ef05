"""The self-contained HTML run report: what ran where and when, how much parallelism paid, and what the
simulation produced.

It reads a run directory (see docs/architecture.md, "The run directory") and writes one HTML file that opens
offline. The package follows the data: `model` reads and validates the run directory into a `RunReport`
(so a bad directory fails with `RunDirectoryError` before anything is drawn), `views` computes what the
charts and tables show, `charts` and `timeline` draw matplotlib figures as inline SVG, and `html` puts the
document together and writes it (`write_report`, atomically); `panels` draws the assumptions and the
nondiscrimination tests. A sweep's comparison report is `comparison` (`write_comparison_report`), from the
comparison.json that `comparison_model` reads and checks.

This module exposes the names the CLI and the tests use; everything else is imported from its module.
"""

from __future__ import annotations

from planalign.engine.results import LimitChange
from planalign.report.charts import CLASS_COLOURS
from planalign.report.comparison import write_comparison_report
from planalign.report.html import write_report
from planalign.report.model import EngineRun, ModelExecution, critical_chain, load_run
from planalign.report.views import concurrency_profile, limit_at, limit_profile, stage_speedups

__all__ = [
    "CLASS_COLOURS",
    "EngineRun",
    "LimitChange",
    "ModelExecution",
    "concurrency_profile",
    "critical_chain",
    "limit_at",
    "limit_profile",
    "load_run",
    "stage_speedups",
    "write_comparison_report",
    "write_report",
]
