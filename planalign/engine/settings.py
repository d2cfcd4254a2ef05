"""The engine's settings: the specification's model-parallelization settings plus the engine's own knobs.

Their own module, below `runner` and `run`, so that both read them without importing each other;
`planalign.engine.runner.EngineSettings` is the same class (its public name).
"""

from __future__ import annotations

from dataclasses import dataclass

from planalign.engine.watchdog import DEFAULT_MIN_AVAILABLE_MB
from planalign.errors import ConfigError


@dataclass(frozen=True)
class EngineSettings:
    """The specification's model-parallelization settings (same names and defaults), plus engine knobs.

    `models_per_invocation` caps a batch (see "Batches" in `planalign.engine.scheduler`; 1: one model per
    dbt invocation). `shuffle_dispatch_seed` is for tests: it shuffles the dispatch order among ready models.
    `retry_backoff_s` is the pause before a retry; `watchdog_interval_s` and `min_available_mb` tune the
    memory watchdog (see `planalign.engine.watchdog`). `model_timeout_seconds` is how long one model may
    run before
    the invoker interrupts it (see "Retries and time limits" in the module docstring).
    """

    max_workers: int = 4
    memory_limit_mb: float = 4000.0
    enable_conditional_parallelization: bool = False
    deterministic_execution: bool = True
    resource_monitoring: bool = True
    fallback_on_resource_pressure: bool = True
    validate_execution_safety: bool = True
    abort_on_dependency_conflict: bool = True
    max_retries_per_model: int = 2
    models_per_invocation: int = 64
    shuffle_dispatch_seed: int | None = None
    retry_backoff_s: float = 0.05
    watchdog_interval_s: float = 0.5
    min_available_mb: float = DEFAULT_MIN_AVAILABLE_MB
    model_timeout_seconds: float = 1800.0
    #: dbt's `--fail-fast`: the first model that fails for good stops the run (see `execute`).
    fail_fast: bool = False

    def __post_init__(self) -> None:
        if self.max_workers < 1:
            raise ConfigError(f"max_workers must be at least 1, got {self.max_workers}")
        if self.memory_limit_mb <= 0:
            raise ConfigError(f"memory_limit_mb must be positive, got {self.memory_limit_mb}")
        if self.models_per_invocation < 1:
            raise ConfigError(f"models_per_invocation must be at least 1, got {self.models_per_invocation}")
        if self.max_retries_per_model < 0:
            raise ConfigError(f"max_retries_per_model must be 0 or more, got {self.max_retries_per_model}")
        if self.retry_backoff_s < 0 or self.watchdog_interval_s <= 0:
            raise ConfigError("retry_backoff_s must be >= 0 and watchdog_interval_s > 0")
        if not self.model_timeout_seconds > 0:
            raise ConfigError(f"model_timeout_seconds must be positive, got {self.model_timeout_seconds}")
