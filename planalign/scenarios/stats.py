"""The arithmetic of a comparison: percentiles across seeds, paired deltas, present values.

Percentiles use linear interpolation between the closest ranks (Hyndman & Fan's definition 7, the default
of numpy, R and spreadsheets' PERCENTILE.INC): for n sorted values x[0..n-1] and p in [0, 1], h = (n − 1)·p
and the percentile is x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋ + 1] − x[⌊h⌋]). With one value every percentile is that
value; P50 is the median.

Deltas are paired: for each seed, the scenario's value minus the baseline's value with the same seed (the
two simulations drew the same random numbers), then the percentiles of those differences — not the
difference of the percentiles, which would mix the noise of two independent draws back in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], p: float) -> float:
    """The p-quantile (0 ≤ p ≤ 1) of `values` by linear interpolation (definition 7, see the module)."""
    if not values:
        raise ValueError("no values to take a percentile of")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be between 0 and 1, got {p}")
    ordered = sorted(values)
    h = (len(ordered) - 1) * p
    low = math.floor(h)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (h - low) * (ordered[high] - ordered[low])


@dataclass(frozen=True)
class Band:
    """A metric across seeds: how many values, their mean and the 5th, 50th and 95th percentiles."""

    n: int
    mean: float | None
    p5: float | None
    p50: float | None
    p95: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Band:
        if not values:
            return cls(0, None, None, None, None)
        return cls(
            n=len(values),
            mean=math.fsum(values) / len(values),
            p5=percentile(values, 0.05),
            p50=percentile(values, 0.50),
            p95=percentile(values, 0.95),
        )


def paired_deltas(scenario: Mapping[int, float | None], baseline: Mapping[int, float | None]) -> list[float]:
    """scenario − baseline for every seed both have a value for, in seed order."""
    return [
        value - base
        for seed in sorted(scenario)
        if (value := scenario[seed]) is not None and (base := baseline.get(seed)) is not None
    ]


def present_value(by_year: Mapping[int, float], rate: float, first_year: int) -> float:
    """Σ value_y / (1 + rate)^(y − first_year): each year's amount discounted to the first simulated year
    (the first year's amount counts in full)."""
    if rate <= -1.0:
        raise ValueError(f"a discount rate must be greater than -1, got {rate}")
    return math.fsum(value / (1.0 + rate) ** (year - first_year) for year, value in by_year.items())


def range_statement(seeds: int) -> str:
    """What a P5–P95 band of a sweep covers and what it leaves out, in words for a reader of the results
    (the comparison report and `scenarios run`'s summary print it). A band reads as "how sure we are";
    it is only the spread of the random draws, so the sentence says so — and says when there is none."""
    if seeds <= 1:
        return (
            "One seed: every figure is one simulated outcome under the stated assumptions; there is no "
            "range. Run several seeds (`seeds:` in the scenario file) to see how much the random draws "
            "move the results."
        )
    small = (
        f" With {seeds} seeds the P5 and P95 are themselves rough (they sit near the smallest and largest "
        "outcome); 20 or more seeds give steadier bounds."
        if seeds < 20
        else ""
    )
    return (
        f"The P5–P95 range is the spread over {seeds} random seeds under the stated assumptions: which "
        "employees happen to be hired, leave, are promoted or enroll. It is not a confidence interval for "
        "the plan's cost. It leaves out uncertainty in the assumptions themselves (turnover, pay growth, "
        "participation and deferral behaviour, investment returns), changes in the workforce, the law or "
        "the plan, and errors in the census. Differences between designs are paired by seed (the same "
        f"people and events), so their range is narrower than the ranges of the designs themselves.{small}"
    )


#: What the simulation does not model, in words for the reader of a result (the comparison report lists
#: them beside the answer). Keep it true: remove an item when the model gains it.
MODEL_LIMITATIONS: tuple[str, ...] = (
    "Deferral behaviour: a participant's first election responds to the match formula and the default "
    "(docs/methodology.md), but later changes of rate other than auto-escalation, and any dependence on pay "
    "or age, are not modelled; participants in the census keep their census rate. Voluntary rates stop at "
    "15%, so catch-up contributions (deferrals above the 402(g) limit) come only from high earners and are "
    "understated.",
    "Account balances (fct_account_balances) earn one default fund's return and start at zero unless the "
    "census gives opening balances; loans, hardship withdrawals, fees and required minimum distributions "
    "are not simulated. The employer cost does not depend on balances.",
    "Plan expenses, fees and the employer's tax effects are not included in the employer cost.",
    "Hires, terminations, promotions and raises follow the configured rates and do not depend on the plan "
    "design; there are no economic cycles or layoffs beyond the configured growth.",
    "The census is taken as correct (rows failing its checks are dropped, up to the allowed share).",
)
