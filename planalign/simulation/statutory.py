"""The plan settings the law allows (issue #23 item 5): `planalign validate` and every command that loads a
configuration refuse a plan the Internal Revenue Code would disqualify, naming the limit and its source,
before dbt's parse.

Plain values in, messages out, so the configuration schema (`config.SimulationConfig`) and its tests call it
without a dbt project. A setting left unset (None) takes the dbt project's seed value (`SEED_DEFAULTS`,
`SEED_VESTING_SCHEDULE`; tests/test_statutory_limits.py checks they are the seed files' values), which
the law allows; a combination is judged on the values a run would use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: The seed values (dbt_project/seeds/config_plan_parameters.csv) of the settings checked here.
SEED_DEFAULTS: dict[str, int] = {
    "eligibility_min_age": 0,
    "eligibility_service_months": 0,
    "eligibility_service_days": 0,
    "eligibility_entry_frequency_months": 0,
    "catch_up_age": 50,
    "normal_retirement_age": 65,
}
#: dbt_project/seeds/config_vesting_schedule.csv: (years_of_service, vested_share), 2-to-6-year graded.
SEED_VESTING_SCHEDULE: tuple[tuple[int, float], ...] = (
    (0, 0.0),
    (2, 0.2),
    (3, 0.4),
    (4, 0.6),
    (5, 0.8),
    (6, 1.0),
)

#: IRC 410(a)(1)(A): age 21 and one year of service at most.
MAX_ELIGIBILITY_AGE = 21
DAYS_PER_MONTH = 365.25 / 12
ONE_YEAR_DAYS = 365.25
#: IRC 410(a)(4): entry at the latest 6 months after meeting the statutory requirements.
SIX_MONTHS_DAYS = ONE_YEAR_DAYS / 2
#: IRC 414(v)(5)(A): catch-up from the year in which the participant reaches 50.
CATCH_UP_AGE = 50
#: IRC 411(a)(8)(B): a normal retirement age no later than 65 (the statute's alternative, the 5th
#: anniversary of participation if later, is not modelled).
MAX_NORMAL_RETIREMENT_AGE = 65
#: IRC 411(a)(2)(B): the slowest allowed vesting of employer contributions, by completed years of service.
THREE_YEAR_CLIFF = {0: 0.0, 1: 0.0, 2: 0.0, 3: 1.0}
SIX_YEAR_GRADED = {0: 0.0, 1: 0.0, 2: 0.2, 3: 0.4, 4: 0.6, 5: 0.8, 6: 1.0}


@dataclass(frozen=True)
class PlanSettings:
    """The settings the law bounds, each None when the configuration leaves it to the seed."""

    eligibility_min_age: int | None = None
    eligibility_service_months: int | None = None
    eligibility_service_days: int | None = None
    eligibility_entry_frequency_months: int | None = None
    vesting_schedule: Sequence[tuple[int, float]] | None = None
    catch_up_age: int | None = None
    normal_retirement_age: int | None = None

    def value(self, name: str) -> int:
        given: int | None = getattr(self, name)
        return SEED_DEFAULTS[name] if given is None else given


def vested_share(schedule: Sequence[tuple[int, float]], years: int) -> float:
    """The schedule's share after `years` completed years (the last step reached; 0 below the first), as
    int_effective_vesting_schedule applies it."""
    reached = [share for step, share in schedule if step <= years]
    return reached[-1] if reached else 0.0


def _meets(schedule: Sequence[tuple[int, float]], minimum: dict[int, float]) -> bool:
    horizon = max(minimum)
    return all(vested_share(schedule, n) >= minimum.get(n, minimum[horizon]) for n in range(horizon + 1))


def vesting_problem(schedule: Sequence[tuple[int, float]]) -> str | None:
    """Why a vesting schedule is slower than IRC 411(a)(2)(B) allows, or None."""
    if vested_share(schedule, 10_000) < 1.0:
        return (
            f"never reaches 100% (at most {vested_share(schedule, 10_000):.0%}): "
            "IRC 411(a)(2)(B) requires full vesting of employer contributions after at most 3 years (cliff) "
            "or 6 years (graded 20% a year from year 2)"
        )
    if _meets(schedule, THREE_YEAR_CLIFF) or _meets(schedule, SIX_YEAR_GRADED):
        return None
    shares = ", ".join(f"{n}y {vested_share(schedule, n):.0%}" for n in range(7))
    return (
        f"({shares}) is slower than both schedules IRC 411(a)(2)(B) allows: 100% after "
        "3 years (cliff) or 20%, 40%, 60%, 80%, 100% after 2 to 6 years (graded); every year of service "
        "must vest at least one of them"
    )


def eligibility_age_problem(age: int) -> str | None:
    if age > MAX_ELIGIBILITY_AGE:
        return (
            f"age {age} is above 21: IRC 410(a)(1)(A)(i) lets a plan require at most age 21 (set 21 or less)"
        )
    return None


def service_problem(months: int, days: int) -> str | None:
    if months * DAYS_PER_MONTH + days > ONE_YEAR_DAYS + 1e-9:
        return (
            f"eligibility_service_months {months} + eligibility_service_days {days} is more than one "
            "year: IRC 410(a)(1)(A)(ii) allows at most 1 year of service, and the 2-year alternative of "
            "410(a)(1)(B)(i) (with 100% immediate vesting) is not open to elective deferrals (IRC "
            "401(k)(2)(D)), which this eligibility governs (set at most 12 months)"
        )
    return None


def entry_problem(frequency: int, age: int, months: int, days: int) -> str | None:
    """Entry every `frequency` months (aligned on January 1) is at most `frequency` months after meeting the
    plan's requirements and never after the next plan year's first day; the law's 6 months after meeting age
    21 and 1 year is kept when entry is at most every 6 months, or when the plan asks 6 months less than the
    law (at most 6 months of service and age 20)."""
    service_days = months * DAYS_PER_MONTH + days
    if frequency > 6 and (service_days > SIX_MONTHS_DAYS + 1e-9 or age > MAX_ELIGIBILITY_AGE - 1):
        return (
            f"eligibility_entry_frequency_months {frequency} (annual entry) with {months} months + "
            f"{days} days of service and age {age}: someone meeting the requirements on 2026-02-15 would "
            "enter on 2027-01-01, but IRC 410(a)(4) requires entry by the earlier of the next plan year's "
            "first day and 6 months after meeting the statutory age and service (2026-08-15); use entry "
            "dates every 6 months or less, or annual entry with at most 6 months of service and age 20"
        )
    return None


def catch_up_age_problem(age: int) -> str | None:
    if age != CATCH_UP_AGE:
        return (
            f"{age} is not 50: IRC 414(v)(5)(A) makes catch-up contributions available from the year a "
            "participant reaches age 50, no earlier and no later (remove the key or set 50)"
        )
    return None


def normal_retirement_age_problem(age: int) -> str | None:
    if age > MAX_NORMAL_RETIREMENT_AGE:
        return (
            f"{age} is above 65: IRC 411(a)(8)(B) sets normal retirement age no later than 65 (the 5th "
            "anniversary of participation, if later, is not modelled)"
        )
    return None


def statutory_problems(settings: PlanSettings) -> list[str]:
    """Every way `settings` would break the Internal Revenue Code, each naming the limit and its source."""
    age = settings.value("eligibility_min_age")
    months = settings.value("eligibility_service_months")
    days = settings.value("eligibility_service_days")
    found = [
        eligibility_age_problem(age),
        service_problem(months, days),
        entry_problem(settings.value("eligibility_entry_frequency_months"), age, months, days),
        None if settings.vesting_schedule is None else vesting_problem(settings.vesting_schedule),
        catch_up_age_problem(settings.value("catch_up_age")),
        normal_retirement_age_problem(settings.value("normal_retirement_age")),
    ]
    return [problem for problem in found if problem]
