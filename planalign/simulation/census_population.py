"""The synthetic census's population: who the generated employees are (age, tenure, level, pay, enrollment,
opening balance), drawn from published workforce distributions.

Two distributions, chosen by `generate_census(distribution=...)` and `planalign census --distribution`:

- `"bls"` (the default): age from the Current Population Survey's employment by age, tenure from the BLS
  *Employee Tenure* release's medians by age (so tenure is consistent with age: nobody is hired before 18),
  job level by age group and pay inside the level's range of the `config_job_levels` seed;
- `"legacy"`: the generator before issue #20 (ages 20–65 by level, 4.2% aged 55+), kept draw for draw so
  an older census can be reproduced exactly.

The optional `opening_balance` (issue #20 item 4) is drawn by age from Vanguard's *How America Saves 2025*
(balances at December 31, 2024) with its own random stream, so asking for it changes no other column.
Every figure and its source is in docs/methodology.md ("The synthetic census"); the calibration test is
tests/test_census_distribution.py.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

CensusDistribution = Literal["bls", "legacy"]
DISTRIBUTIONS: tuple[CensusDistribution, ...] = ("bls", "legacy")

#: Youngest age at hire: a tenure never reaches back before the 18th birthday.
MIN_HIRE_AGE = 18.0

# Share of employees by job level and the pay range of each level (same ranges as the config_job_levels seed).
LEVEL_WEIGHTS = (0.35, 0.30, 0.20, 0.10, 0.05)
LEVEL_PAY = {
    1: (45_000, 65_000),
    2: (60_000, 90_000),
    3: (85_000, 130_000),
    4: (120_000, 180_000),
    5: (170_000, 300_000),
}
# Some directors are executives paid above the level's range (and above the 401(a)(17) limit).
EXECUTIVE_SHARE = 0.2
EXECUTIVE_PAY = (300_000, 550_000)
DEFERRAL_CHOICES = (0.02, 0.03, 0.04, 0.05, 0.06, 0.06, 0.06, 0.08, 0.10, 0.12, 0.15)
ENROLLED_SHARE = 0.60


@dataclass(frozen=True)
class AgeGroup:
    """One age group of the published tables: ages [low, high), its employment (thousands, CPS 2024 annual
    averages), the BLS median tenure of its wage and salary workers, the job-level mix assumed for it and
    the How America Saves 2025 average and median balance of its participants."""

    low: float
    high: float
    employed_thousands: int
    median_tenure: float
    level_weights: tuple[float, float, float, float, float]
    balance_mean: float
    balance_median: float


#: BLS CPS 2024 annual averages, table 3 (employed, thousands): 18–19 3,560; 20–24 14,172; 25–34 35,595;
#: 35–44 36,197; 45–54 32,039; 55–64 26,405; 65+ 11,277 (161,346 minus the groups below 65). 16–17 year olds
#: are left out (no hire before 18); the 65+ are drawn 65–74 (the model retires everyone at 75).
#: Median tenure: BLS Employee Tenure in 2024 (25–34 2.7, 55–64 9.6 years; all ages 3.9); 35–44, 45–54 and
#: 65+ from Employee Tenure in 2020 (4.9, 7.5, 10.3), 18–19 and 20–24 from its table 1 (0.8, 1.3).
#: Level mix by age: an assumption (pay rises with age to the 45–54 group, as the CPS earnings profile does).
#: Balances: Vanguard How America Saves 2025, average / median balance by age.
AGE_GROUPS: tuple[AgeGroup, ...] = (
    AgeGroup(18, 20, 3_560, 0.8, (0.80, 0.17, 0.03, 0.00, 0.00), 7_351, 2_816),
    AgeGroup(20, 25, 14_172, 1.3, (0.74, 0.21, 0.05, 0.00, 0.00), 7_351, 2_816),
    AgeGroup(25, 35, 35_595, 2.7, (0.42, 0.35, 0.17, 0.05, 0.01), 42_640, 16_255),
    AgeGroup(35, 45, 36_197, 4.9, (0.27, 0.31, 0.24, 0.12, 0.06), 103_552, 39_958),
    AgeGroup(45, 55, 32_039, 7.5, (0.24, 0.28, 0.23, 0.15, 0.10), 188_643, 67_796),
    AgeGroup(55, 65, 26_405, 9.6, (0.26, 0.29, 0.22, 0.14, 0.09), 271_320, 95_642),
    AgeGroup(65, 75, 11_277, 10.3, (0.32, 0.30, 0.19, 0.12, 0.07), 299_442, 95_425),
)


def age_group(age: float) -> AgeGroup:
    """The published age group of an age (the last group takes everyone older)."""
    for group in AGE_GROUPS:
        if age < group.high:
            return group
    return AGE_GROUPS[-1]


def years_before(day: date, years: float) -> date:
    return day - timedelta(days=round(years * 365.25))


def eighteenth_birthday(birth_date: date) -> date:
    """The 18th birthday (February 28 for someone born on February 29 when the year is not a leap year)."""
    try:
        return birth_date.replace(year=birth_date.year + 18)
    except ValueError:
        return birth_date.replace(year=birth_date.year + 18, day=28)


def _draw_age(rng: random.Random) -> float:
    group = rng.choices(AGE_GROUPS, weights=[g.employed_thousands for g in AGE_GROUPS])[0]
    if group.low >= 65:
        # density falling linearly to 0 at 75: three quarters of the group are 65–69
        return group.low + (group.high - group.low) * (1.0 - math.sqrt(rng.random()))
    return rng.uniform(group.low, group.high)


def _age_density(group: AgeGroup, points: int = 400) -> list[tuple[float, float]]:
    """The group's ages as (age, weight) points, weights summing to 1 (the draw's density)."""
    width = group.high - group.low
    ages = [group.low + width * (i + 0.5) / points for i in range(points)]
    weights = [(group.high - a) if group.low >= 65 else 1.0 for a in ages]
    total = sum(weights)
    return [(a, w / total) for a, w in zip(ages, weights, strict=True)]


#: Weibull shape of tenure within an age group: below 1, so the chance of leaving falls with tenure (more
#: short and more long tenures than an exponential with the same median). 0.7 reproduces BLS Employee
#: Tenure in 2024's 22% with a year or less and about a quarter with 10 years or more (28% of men, 24% of
#: women) from the group medians.
TENURE_SHAPE = 0.7


def _weibull_cdf(tenure: float, scale: float) -> float:
    return 1.0 - math.exp(-float((tenure / scale) ** TENURE_SHAPE))


@functools.cache
def tenure_scale(group: AgeGroup) -> float:
    """The Weibull scale that gives the group its published median tenure once each tenure is truncated at
    the years since the 18th birthday (bisection on the group's mixture of ages; the truncation shortens
    young groups' tenures, so their scale is raised to compensate). Where no scale reaches the median (the
    youngest ages cannot have served that long) the group gets the largest scale tried."""
    target = group.median_tenure
    density = _age_density(group)

    def share_below_target(scale: float) -> float:
        share = 0.0
        for age, weight in density:
            longest = max(age - MIN_HIRE_AGE, 1e-9)
            share += weight * min(1.0, _weibull_cdf(target, scale) / _weibull_cdf(longest, scale))
        return share

    low, high = target / math.log(2) ** (1 / TENURE_SHAPE), 1_000.0  # the share falls as the scale grows
    for _ in range(80):
        middle = (low + high) / 2
        if share_below_target(middle) > 0.5:
            low = middle
        else:
            high = middle
    return float((low + high) / 2)


def _draw_tenure(rng: random.Random, age: float) -> float:
    """Weibull (`TENURE_SHAPE`, the age group's `tenure_scale`), truncated at the years since the 18th
    birthday: drawn by inverting the truncated distribution, so nobody is hired before 18 and nobody piles
    up at 18."""
    scale = tenure_scale(age_group(age))
    longest = max(age - MIN_HIRE_AGE, 0.0)
    reachable = _weibull_cdf(longest, scale)
    return float(scale * (-math.log(1.0 - rng.random() * reachable)) ** (1 / TENURE_SHAPE))


def _pay(rng: random.Random, level: int) -> float:
    low, high = LEVEL_PAY[level]
    pay = round(rng.triangular(low, high, low + (high - low) * 0.4), 2)
    if level == 5 and rng.random() < EXECUTIVE_SHARE:
        pay = round(rng.uniform(*EXECUTIVE_PAY), 2)
    return pay


def _termination(
    rng: random.Random, effective_date: date, hire_date: date, terminated_share: float
) -> date | None:
    if rng.random() < terminated_share:
        candidate = effective_date - timedelta(days=rng.randint(1, 365))
        if candidate >= hire_date:
            return candidate
    return None


def bls_row(index: int, rng: random.Random, effective_date: date, terminated_share: float) -> dict[str, Any]:
    """One employee of the default distribution: age, then tenure given age, then level given age."""
    age = _draw_age(rng)
    tenure = _draw_tenure(rng, age)
    level = rng.choices(range(1, 6), weights=age_group(age).level_weights)[0]
    birth_date = years_before(effective_date, age)
    # whole days, and never before the 18th birthday (rounding to days could move it by one)
    hire_date = min(
        max(years_before(effective_date, tenure), eighteenth_birthday(birth_date)), effective_date
    )
    pay = _pay(rng, level)
    termination_date = _termination(rng, effective_date, hire_date, terminated_share)
    deferral = rng.choice(DEFERRAL_CHOICES) if rng.random() < ENROLLED_SHARE else None
    return _row(index, birth_date, hire_date, termination_date, pay, level, deferral)


def legacy_row(
    index: int, rng: random.Random, effective_date: date, terminated_share: float
) -> dict[str, Any]:
    """One employee of the generator before issue #20, draw for draw: ages 20–65 around 27 + 5 × level,
    exponential tenure by level capped at age − 18."""
    level = rng.choices(range(1, 6), weights=LEVEL_WEIGHTS)[0]
    age = min(65.0, max(20.0, rng.gauss(27 + 5 * level, 7)))
    tenure = min(age - 18.0, rng.expovariate(1 / (2.5 + 1.5 * level)))
    birth_date = years_before(effective_date, age)
    hire_date = min(years_before(effective_date, max(tenure, 0.0)), effective_date)
    pay = _pay(rng, level)
    termination_date = _termination(rng, effective_date, hire_date, terminated_share)
    deferral = rng.choice(DEFERRAL_CHOICES) if rng.random() < ENROLLED_SHARE else None
    return _row(index, birth_date, hire_date, termination_date, pay, level, deferral)


def _row(
    index: int,
    birth_date: date,
    hire_date: date,
    termination_date: date | None,
    pay: float,
    level: int,
    deferral: float | None,
) -> dict[str, Any]:
    return {
        "employee_id": f"E{index:07d}",
        "birth_date": birth_date,
        "hire_date": hire_date,
        "termination_date": termination_date,
        "annual_compensation": pay,
        "job_level": level,
        "deferral_rate": deferral,
    }


def opening_balance(rng: random.Random, age: float, enrolled: bool) -> float:
    """A participant's balance on the effective date: lognormal with the How America Saves 2025 average and
    median of their age group (median m, mean a: σ² = 2 ln(a / m)); 0 for an employee not enrolled."""
    if not enrolled:
        return 0.0
    group = age_group(age)
    sigma = math.sqrt(2.0 * math.log(group.balance_mean / group.balance_median))
    return round(min(group.balance_median * math.exp(sigma * rng.gauss(0.0, 1.0)), 1e9), 2)


def add_opening_balances(rows: Sequence[dict[str, Any]], seed: int, effective_date: date) -> None:
    """Give every row an `opening_balance` from a random stream of its own (seeded from `seed`), so the other
    columns are the same with and without balances."""
    rng = random.Random(f"planalign-opening-balance-{seed}")
    for row in rows:
        age = (effective_date - row["birth_date"]).days / 365.25
        row["opening_balance"] = opening_balance(rng, age, row["deferral_rate"] is not None)
