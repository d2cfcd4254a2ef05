"""Automatic-enrollment plan types (issue #23): the QACA, the EACA and SECURE 2.0 section 101, judged on the
settings a run would use.

A configuration that selects one (`safe_harbor.qaca`, `enrollment.auto_enrollment.eaca`,
`enrollment.auto_enrollment.secure_2_0_mandatory`) must give the automatic enrollment the law requires of
it; `problems` names each setting outside the law, its limit and its source, and the loader
(`config_loading.build_config`) turns each into a line of the exit-2 ConfigError before dbt's parse.

The schedule is judged as the dbt project applies it (int_deferral_escalation_events): a participant
auto-enrolled in plan year Y0 defers the default, and escalation adds `increment` (never above `cap`) every
January 1 from the first one due — Y0 + 1 + delay_years for an enrollment after January 1, Y0 + max(1,
delay_years) for one on January 1 (the earliest). The law's minimum is checked on the latest schedule and its
maximum on the earliest. Participants who opt out of escalation have made an affirmative election, which
both arrangements allow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: dbt_project/seeds/config_plan_parameters.csv: the automatic-enrollment settings a run uses when the
#: configuration leaves them unset (tests/test_plan_types.py checks they are the seed's).
SEED_AUTO_ENROLLMENT: dict[str, Any] = {
    "auto_enrollment_enabled": True,
    "auto_enrollment_default_deferral_rate": 0.06,
    "escalation_enabled": True,
    "escalation_increment": 0.01,
    "escalation_cap": 0.10,
    "escalation_delay_years": 1,
}

#: IRC 401(k)(13)(D)(i)(I) (Treas. Reg. 1.401(k)-3(k)(2)): 100% of the first 1% of pay deferred and 50% of
#: the next 5% (3.5% of pay at 6%); (D)(i)(II): the 3% non-elective contribution of a traditional safe harbor.
#: The enhanced design (100% of 4%) is at least as generous at every deferral rate and its rate does not rise
#: with the deferral, so it meets 1.401(k)-3(k)(2)(ii) too.
QACA_PLAN: dict[str, dict[str, Any]] = {
    "basic_match": {
        "match": {
            "tiers": ({"employee_max": 0.01, "match_rate": 1.0}, {"employee_max": 0.06, "match_rate": 0.5}),
            "cap_rate": 0.035,
        }
    },
    "enhanced_match": {"match": {"tiers": ({"employee_max": 0.04, "match_rate": 1.0},), "cap_rate": 0.04}},
    "nonelective": {"contributions": {"core_contribution_rate": 0.03}},
}
#: IRC 401(k)(13)(D)(iii)(I): a QACA's safe-harbor contributions may vest after at most 2 years of service;
#: the design uses that slowest schedule (a 2-year cliff) for all employer money.
QACA_VESTING = ({"years_of_service": 0, "vested_share": 0.0}, {"years_of_service": 2, "vested_share": 1.0})

#: IRC 401(k)(13)(C)(iii): the lowest default in the initial period (the plan year of the first deferral and
#: the next), the 2nd, 3rd and later plan years after it; at most 10% in the initial period, 15% after.
QACA_MINIMUM = (0.03, 0.03, 0.04, 0.05, 0.06)
QACA_INITIAL_MAXIMUM = 0.10
QACA_MAXIMUM = 0.15
#: IRC 414A(b) (SECURE 2.0 section 101): an initial default of 3% to 10%, raised by 1 point each plan year
#: until at least 10%, never above 15%.
MANDATORY_INITIAL = (0.03, 0.10)
MANDATORY_INCREMENT = 0.01
MANDATORY_CAP = (0.10, 0.15)
EPSILON = 1e-9


@dataclass(frozen=True)
class AutoSchedule:
    """The automatic enrollment a run would use (the configuration's values, the seed's where unset)."""

    enabled: bool
    default_rate: float
    escalation_enabled: bool
    increment: float
    cap: float
    delay_years: int

    def rate(self, years_after: int, *, earliest: bool) -> float:
        """The default's rate `years_after` plan years after the year of auto-enrollment (0: that year)."""
        if not self.escalation_enabled or self.default_rate >= self.cap:
            return self.default_rate
        first = max(1, self.delay_years) if earliest else 1 + self.delay_years
        increases = max(0, years_after - first + 1)
        return min(self.cap, self.default_rate + increases * self.increment)


def schedule_of(settings: dict[str, Any]) -> AutoSchedule:
    """The schedule from dbt-var-named settings (None or missing: the seed's value)."""

    def value(name: str) -> Any:
        given = settings.get(name)
        return SEED_AUTO_ENROLLMENT[name] if given is None else given

    return AutoSchedule(
        enabled=bool(value("auto_enrollment_enabled")),
        default_rate=float(value("auto_enrollment_default_deferral_rate")),
        escalation_enabled=bool(value("escalation_enabled")),
        increment=float(value("escalation_increment")),
        cap=float(value("escalation_cap")),
        delay_years=int(value("escalation_delay_years")),
    )


Problem = tuple[tuple[str, ...], str]
AUTO = ("enrollment", "auto_enrollment")


def _needs_auto_enrollment(schedule: AutoSchedule, what: str, source: str) -> list[Problem]:
    if schedule.enabled:
        return []
    return [((*AUTO, "enabled"), f"{what} requires automatic enrollment ({source}); set it to true")]


def qaca_problems(schedule: AutoSchedule) -> list[Problem]:
    """Why the automatic enrollment does not meet IRC 401(k)(13)(C) (Treas. Reg. 1.401(k)-3(j)(2))."""
    source = "IRC 401(k)(13)(C)(iii), Treas. Reg. 1.401(k)-3(j)(2)"
    found = _needs_auto_enrollment(schedule, "safe_harbor.qaca", "IRC 401(k)(13)(C)")
    if found:
        return found
    for years_after, minimum in enumerate(QACA_MINIMUM):
        rate = schedule.rate(years_after, earliest=False)
        if rate < minimum - EPSILON:
            key = (*AUTO, "default_deferral_rate") if years_after < 2 else ("escalation", "increment")
            return [
                (
                    key,
                    f"safe_harbor.qaca: the default is {rate:.1%} in plan year {years_after + 1} after "
                    f"auto-enrollment, below the QACA minimum of {minimum:.0%} ({source}: at least 3% until "
                    "the end of the plan year after the first deferral, then 4%, 5%, and 6% from the fourth "
                    "plan year; raise the default or enable escalation of at least 1 point a year)",
                )
            ]
    initial = max(schedule.rate(0, earliest=True), schedule.rate(1, earliest=True))
    if initial > QACA_INITIAL_MAXIMUM + EPSILON:
        found.append(
            (
                (*AUTO, "default_deferral_rate"),
                f"safe_harbor.qaca: the default reaches {initial:.1%} in the initial period, above the "
                f"QACA maximum of 10% ({source}; lower the default or delay escalation)",
            )
        )
    highest = max(schedule.default_rate, schedule.cap if schedule.escalation_enabled else 0.0)
    if highest > QACA_MAXIMUM + EPSILON:
        found.append(
            (
                ("escalation", "cap"),
                f"safe_harbor.qaca: the default reaches {highest:.1%}, above the QACA maximum of 15% "
                f"({source})",
            )
        )
    return found


def mandatory_problems(schedule: AutoSchedule) -> list[Problem]:
    """Why the automatic enrollment does not meet IRC 414A(b) (SECURE 2.0 section 101)."""
    source = "IRC 414A(b), SECURE 2.0 section 101"
    what = "enrollment.auto_enrollment.secure_2_0_mandatory"
    found = _needs_auto_enrollment(schedule, what, source)
    if found:
        return found
    low, high = MANDATORY_INITIAL
    if not low - EPSILON <= schedule.default_rate <= high + EPSILON:
        found.append(
            (
                (*AUTO, "default_deferral_rate"),
                f"{schedule.default_rate:.1%} is outside the 3% to 10% initial default {source} requires",
            )
        )
    if schedule.default_rate < MANDATORY_CAP[0] - EPSILON:
        if not schedule.escalation_enabled:
            found.append(
                (
                    ("escalation", "enabled"),
                    f"{what}: a default below 10% must rise by 1 point each plan year ({source}); "
                    "enable escalation",
                )
            )
        elif abs(schedule.increment - MANDATORY_INCREMENT) > EPSILON:
            found.append(
                (
                    ("escalation", "increment"),
                    f"{schedule.increment:.1%} a year: {source} raises the default by 1 point each plan "
                    "year (set 0.01)",
                )
            )
        elif schedule.delay_years > 1:
            found.append(
                (
                    ("escalation", "delay_years"),
                    f"{schedule.delay_years} full plan years before the first increase: {source} raises the "
                    "default every plan year after the first (set at most 1)",
                )
            )
    low, high = MANDATORY_CAP
    if schedule.escalation_enabled and not low - EPSILON <= schedule.cap <= high + EPSILON:
        found.append(
            (
                ("escalation", "cap"),
                f"{schedule.cap:.1%}: {source} raises the default until it is at least 10% and never "
                "above 15%",
            )
        )
    return found


def eaca_problems(schedule: AutoSchedule) -> list[Problem]:
    """An EACA (IRC 414(w)(3)) is an automatic contribution arrangement."""
    return _needs_auto_enrollment(schedule, "enrollment.auto_enrollment.eaca", "IRC 414(w)(3)")


def problems(settings: dict[str, Any], *, qaca: bool, eaca: bool, mandatory: bool) -> list[Problem]:
    """Every way the plan types selected break the law, as (dotted key, message)."""
    schedule = schedule_of(settings)
    found: list[Problem] = []
    if qaca:
        found += qaca_problems(schedule)
    if mandatory:
        found += [p for p in mandatory_problems(schedule) if p not in found]
    elif eaca:
        found += [p for p in eaca_problems(schedule) if p not in found]
    return found
