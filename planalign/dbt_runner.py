"""The specification's `planalign_orchestrator.dbt_runner` (S067-02): `DbtRunner`, which lives in
`planalign.simulation.spec_api`. Kept as this thin module so the specification's examples run as written."""

from planalign.simulation.spec_api import DbtRunner, ParallelRunResult

__all__ = ["DbtRunner", "ParallelRunResult"]
