"""planalign: a multi-year workforce and retirement-plan simulation on dbt + DuckDB, with a parallel
in-process dbt scheduler."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from planalign.simulation.orchestrator import PipelineOrchestrator

__version__ = "0.1.0"
__all__ = ["__version__", "create_orchestrator"]


def create_orchestrator(config: Any, **kwargs: Any) -> PipelineOrchestrator:
    """The specification's entry point: `from planalign import create_orchestrator`.

    Imported lazily so that `import planalign` (and the CLI's `--help`) does not load dbt.
    """
    from planalign.simulation.orchestrator import create_orchestrator as _create

    return _create(config, **kwargs)
