"""What `planalign validate` reports about a valid configuration beyond "the file is valid": checks that
need the machine, the files, or several keys at once."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from typing import Literal

from planalign.simulation.config import SimulationConfig, safe_harbor_settings

#: dbt_project/seeds/config_match_tiers.csv as (employee_max, match_rate): the match when match.tiers is unset
SEED_MATCH_TIERS = ((0.03, 1.0), (0.05, 0.5))
#: IRC 401(m)(11)(B)(i): no match on deferrals above 6% of pay
ACP_SAFE_HARBOR_MAX_DEFERRAL = 0.06


@dataclass(frozen=True)
class ConfigFinding:
    """One observation about a valid configuration. `error` means a run would fail; `warning` means it would
    run but probably not as intended; `info` is worth knowing."""

    severity: Literal["error", "warning", "info"]
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.key}: {self.message}"


def review_config(
    config: SimulationConfig, *, cpu_count: int | None = None, total_memory_mb: float | None = None
) -> list[ConfigFinding]:
    """Checks that need the machine or several keys at once, for `planalign validate`.

    Loading already rejects invalid values; this finds what is valid but will fail (no dbt project where
    `dbt.project_dir` points, no directory for the database) or will surprise (more workers than cores, a
    memory limit above physical memory, an escalation cap below the auto-enrollment rate). `cpu_count` and
    `total_memory_mb` default to this machine's. Reads the filesystem, writes nothing.
    """
    cores = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    if total_memory_mb is None:
        import psutil

        total_memory_mb = psutil.virtual_memory().total / (1024 * 1024)
    found: list[ConfigFinding] = []
    add = found.append

    dbt = config.dbt
    if not (dbt.project_dir / "dbt_project.yml").is_file():
        add(ConfigFinding("error", "dbt.project_dir", f"no dbt_project.yml in {dbt.project_dir}"))
    if not (dbt.profiles_dir / "profiles.yml").is_file():
        add(ConfigFinding("error", "dbt.profiles_dir", f"no profiles.yml in {dbt.profiles_dir}"))
    database_dir = config.simulation.database_path.parent
    if not database_dir.is_dir():
        add(
            ConfigFinding(
                "error",
                "simulation.database_path",
                f"directory {database_dir} does not exist; create it or choose another path",
            )
        )
    if config.simulation.effective_date.year >= config.simulation.start_year:
        add(
            ConfigFinding(
                "warning",
                "simulation.effective_date",
                f"the census date {config.simulation.effective_date} is not before the first simulated year "
                f"{config.simulation.start_year}",
            )
        )

    mp = config.model_parallelization
    key = "orchestrator.threading.model_parallelization"
    if not mp.enabled:
        add(
            ConfigFinding(
                "info", f"{key}.enabled", "parallelization is off: every stage runs with one worker"
            )
        )
    else:
        if mp.max_workers > cores:
            add(
                ConfigFinding(
                    "warning",
                    f"{key}.max_workers",
                    f"{mp.max_workers} workers on {cores} CPU cores; more workers than cores rarely helps",
                )
            )
        if mp.memory_limit_mb > total_memory_mb:
            add(
                ConfigFinding(
                    "warning",
                    f"{key}.memory_limit_mb",
                    f"{mp.memory_limit_mb:.0f} MB is more than this machine's {total_memory_mb:.0f} MB, "
                    "so the limit never protects it",
                )
            )
        if not mp.resource_monitoring:
            add(
                ConfigFinding(
                    "warning",
                    f"{key}.resource_monitoring",
                    "off: memory_limit_mb is not enforced while models run in parallel",
                )
            )
        if not mp.deterministic_execution:
            add(
                ConfigFinding(
                    "warning",
                    f"{key}.deterministic_execution",
                    "off: results may depend on the order in which parallel models finish",
                )
            )

    esc, auto = config.escalation, config.enrollment.auto_enrollment
    if esc.enabled is not False and esc.cap is not None:
        if esc.increment is not None and esc.cap < esc.increment:
            add(ConfigFinding("warning", "escalation.cap", f"{esc.cap} is below escalation.increment"))
        initial = auto.default_deferral_rate if auto.enabled is not False else None
        if initial is not None and esc.cap < initial:
            add(
                ConfigFinding(
                    "warning",
                    "escalation.cap",
                    f"{esc.cap} is below enrollment.auto_enrollment.default_deferral_rate "
                    f"({initial}), so auto-enrolled participants never escalate",
                )
            )
    found += safe_harbor_findings(config)
    return found


def safe_harbor_findings(config: SimulationConfig) -> list[ConfigFinding]:
    """What a safe-harbor design does to the rest of the file: each match / core / vesting value the file
    (or the environment, or a flag) sets that the design replaces, and, for the non-elective design, a plan
    match whose conditions of IRC 401(m)(11)(B) fail — no match on deferrals above 6% of pay, a match rate
    that does not rise with the deferral — so the ACP test runs on it (the model runs it for a non-elective
    design's match in any case)."""
    design = config.safe_harbor.type
    if design is None or design == "none":
        return []
    found: list[ConfigFinding] = []
    qaca = config.safe_harbor.qaca is True
    kind = "QACA " if qaca else ""
    for section, values in safe_harbor_settings(design, qaca=qaca).items():
        for name in values:
            key = f"{section}.{name}"
            if config.origin_of(key) in ("file", "environment", "flag"):
                found.append(
                    ConfigFinding(
                        "warning",
                        key,
                        f"replaced by the {kind}safe-harbor design {design!r} (safe_harbor.type): the value "
                        "set here is not used",
                    )
                )
    if design == "nonelective":
        tiers = (
            tuple((t.employee_max, t.match_rate) for t in config.match.tiers)
            if config.match.tiers is not None
            else SEED_MATCH_TIERS
        )
        matched = [(upper, rate) for upper, rate in tiers if rate > 0]
        beyond = [upper for upper, _ in matched if upper > ACP_SAFE_HARBOR_MAX_DEFERRAL + 1e-9]
        rising = any(b[1] > a[1] for a, b in itertools.pairwise(matched))
        if beyond or rising:
            why = (
                "it matches deferrals above 6% of pay" if beyond else "its match rate rises with the deferral"
            )
            found.append(
                ConfigFinding(
                    "warning",
                    "match.tiers",
                    f"the plan's match fails the ACP safe-harbor conditions of IRC 401(m)(11)(B) ({why}): "
                    "the ACP test runs on it and may refund HCE match",
                )
            )
    return found
