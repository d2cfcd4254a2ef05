"""Plan rules a sponsor's actuary checks (issue #15), recomputed here in Python from the inputs.

A three-year run of the default plan on a small generated census in which a few employees are re-paid far
above the 401(a)(17) limit at a low deferral rate (the case the old formulas got wrong) and a few aged 61 and
64 defer 15% of $300,000 (catch-up, super catch-up and, from 2026, the Roth catch-up); two-year runs of a
rich plan (20% core, 415(c) binds) and of a graded plan (core rate by age and service, the match per pay
period without a true-up, the Roth catch-up from 2025), the three built side by side in one build. Every
expected value is recomputed from the census, the seeds and the year's events, never copied from the models.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from planalign.simulation.census import generate_census, write_census

from .simulation_support import DbtWorkspace, Scenario, ScenarioBuild, SimulationRun, build_scenarios
from .test_dbt_simulation import (
    CENT,
    PLAN,
    WORKFORCE,
    _match_rate,
    _paid,
    catch_up_limit,
    events_by_employee,
    irs_limit,
    irs_limits,
    seed_rows,
    snapshot,
    start_of_year_actives,
)

pytestmark = pytest.mark.slow

PLAN_YEARS = (2025, 2026, 2027)
RICH_YEARS = (2025, 2026)
EXECUTIVE_PAY = 1_170_000.0
EXECUTIVE_DEFERRAL = 0.02
EXECUTIVES = 12
#: a plan with a 20% core contribution (so 415(c) binds), a 3-year cliff and forfeitures used
RICH_PLAN: dict[str, Any] = {
    "core_contribution_rate": 0.2,
    "vesting_schedule": [{"years_of_service": 3, "vested_share": 1.0}],
    "forfeitures_offset_employer_cost": True,
}


def executive_census(path: Path) -> Path:
    """A 300-employee generated census whose first EXECUTIVES actives earn $1.17M and defer 2%, and whose
    next eight defer 15% of $300,000: six aged 61 and two aged 64 on 2025-12-31 (around the 60-63 band)."""
    # The legacy generator: the counts this module asserts (at least six Roth catch-ups a year) were set on
    # its population; the default census retires one of the eight re-aged deferrers (docs/methodology.md).
    table = generate_census(300, seed=15, distribution="legacy")
    rows = table.to_pylist()
    actives = [r for r in rows if r["termination_date"] is None]
    for row in actives[:EXECUTIVES]:
        row["annual_compensation"] = EXECUTIVE_PAY
        row["deferral_rate"] = EXECUTIVE_DEFERRAL
        row["job_level"] = 5
    for index, row in enumerate(actives[EXECUTIVES : EXECUTIVES + 8]):
        row["annual_compensation"] = 300_000.0
        row["deferral_rate"] = 0.15
        row["job_level"] = 5
        row["birth_date"] = date(1964 if index < 6 else 1961, 6, 1)
        row["hire_date"] = min(row["hire_date"], date(2010, 1, 1))
    return write_census(pa.Table.from_pylist(rows, schema=table.schema), path)


#: an age/service-graded core (var schedule, rows in no particular order), the match per pay period only
#: and the Roth catch-up already in 2025 (on the census pay rate and the 2025 threshold, $145,000)
GRADED_PLAN: dict[str, Any] = {
    "core_contribution_graded": True,
    "core_contribution_schedule": [
        {"min_age": 50, "min_service_years": 0, "core_rate": 0.045},
        {"min_age": 0, "min_service_years": 0, "core_rate": 0.01},
        {"min_age": 0, "min_service_years": 5, "core_rate": 0.025},
        {"min_age": 40, "min_service_years": 5, "core_rate": 0.035},
    ],
    "match_true_up": False,
    "roth_catch_up_start_year": 2025,
}


#: The three plans, side by side in one build (simulation_support.build_scenarios): every year's dbt pass
#: builds each plan still running, so the three runs cost about one; each fixture reads a database holding
#: its plan alone, as a single run of it would build. The default plan is the build's `baseline`.
PLANS = (
    Scenario("baseline", 7),
    Scenario("rich", 7, RICH_PLAN, last_year=RICH_YEARS[-1]),
    Scenario("graded", 7, GRADED_PLAN, last_year=RICH_YEARS[-1]),
)


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> ScenarioBuild:
    root = tmp_path_factory.mktemp("plan_rules")
    census = executive_census(root / "census.parquet")
    return build_scenarios(root, census, PLAN_YEARS, PLANS, split=[p.scenario_id for p in PLANS])


@pytest.fixture(scope="module")
def plan_run(plans: ScenarioBuild) -> Iterator[SimulationRun]:
    """The default plan, 2025-2027."""
    yield plans.members["baseline"]


@pytest.fixture(scope="module")
def rich_run(plans: ScenarioBuild) -> Iterator[SimulationRun]:
    """RICH_PLAN, 2025-2026."""
    yield plans.members["rich"]


@pytest.fixture(scope="module")
def graded_run(plans: ScenarioBuild) -> Iterator[SimulationRun]:
    """GRADED_PLAN, 2025-2026."""
    yield plans.members["graded"]


def half_up(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def plan_value(run: SimulationRun, name: str) -> Any:
    """A plan parameter of the run: its var, else the seed value."""
    value = run.vars.get(name)
    return PLAN[name] if value is None else value


def core_rate(run: SimulationRun, age: int, years_of_service: int) -> Decimal:
    """The flat core_contribution_rate or, graded, the highest rate of the schedule rows reached."""
    if not bool(plan_value(run, "core_contribution_graded")):
        return Decimal(str(plan_value(run, "core_contribution_rate")))
    schedule = run.vars.get("core_contribution_schedule") or seed_rows("config_core_contribution_schedule")
    reached = [
        Decimal(str(r["core_rate"]))
        for r in schedule
        if int(r["min_age"]) <= age and int(r["min_service_years"]) <= years_of_service
    ]
    return max(reached, default=Decimal(0))


def prior_year_pay(run: SimulationRun, year: int) -> dict[str, Decimal]:
    """Pay received in Y - 1 by the start-of-year actives: the census pay rate in the first year."""
    start = start_of_year_actives(run, year)
    if year == PLAN_YEARS[0]:
        return {e: row["annual_compensation"] for e, row in start.items()}
    last = snapshot(run, year - 1)
    return {e: last[e]["prorated_compensation"] for e in start}


def expected_money(run: SimulationRun, year: int) -> dict[str, dict[str, Decimal]]:
    """Per employee: plan compensation (deferred pay capped at 401(a)(17)), deferral, match and core after
    415(c) (excess out of core first, then match); the match per pay period and its true-up, the core rate,
    and the pre-tax / Roth split of the deferral (SECURE 2.0 section 603)."""
    rows = snapshot(run, year)
    start = start_of_year_actives(run, year)
    by_employee = events_by_employee(run, year)
    deferral_limit, _, comp_limit = irs_limits(year)
    additions_limit = irs_limit(year, "annual_additions_limit", 1000)
    true_up_on = bool(plan_value(run, "match_true_up"))
    roth_from = int(plan_value(run, "roth_catch_up_start_year"))
    roth_threshold = irs_limit(year, "roth_catch_up_wage_threshold", 5000)
    prior_pay = prior_year_pay(run, year)
    merit_date = date(year, int(WORKFORCE["merit_effective_month"]), 1)
    out: dict[str, dict[str, Decimal]] = {}
    for employee_id, row in rows.items():
        kinds = by_employee.get(employee_id, {})
        employed_from = max(row["hire_date"], date(year, 1, 1))
        employed_to = row["termination_date"] or date(year, 12, 31)
        if "raise" in kinds:
            pre, post = kinds["raise"]["compensation_before"], kinds["raise"]["compensation_after"]
        else:
            pre = post = row["annual_compensation"]
        if "enrollment" in kinds:
            deferring_from: date | None = kinds["enrollment"]["effective_date"]
        elif employee_id in start and start[employee_id]["deferral_rate"] > 0:
            deferring_from = date(year, 1, 1)
        else:
            deferring_from = None
        deferred_pay = (
            _paid(pre, post, max(employed_from, deferring_from), employed_to, year, merit_date)
            if deferring_from is not None and row["deferral_rate"] > 0
            else Decimal(0)
        )
        plan_pay = min(half_up(deferred_pay), comp_limit)
        paid = _paid(pre, post, employed_from, employed_to, year, merit_date)
        annual_plan_pay = min(half_up(paid), comp_limit)
        limit = deferral_limit + catch_up_limit(year, row["age"])
        requested = half_up(row["deferral_rate"] * plan_pay)
        contribution = min(requested, limit)
        annual_match = per_period_match = Decimal(0)
        if contribution > 0:
            # the plan year's totals: the deferral as a share of the pay deferred on
            rate = min(_match_rate(contribution / plan_pay), PLAN["match_cap_rate"])
            annual_match = per_period_match = half_up(rate * plan_pay)
            if requested > limit:
                # per pay period: deferrals (and the match) stop once the year's total reaches the limit
                period_rate = min(_match_rate(row["deferral_rate"]), PLAN["match_cap_rate"])
                per_period_match = half_up(period_rate * min(contribution / row["deferral_rate"], plan_pay))
        true_up = annual_match - per_period_match if true_up_on else Decimal(0)
        match = per_period_match + true_up
        service = full_years(row["hire_date"], row["termination_date"] or date(year, 12, 31))
        rate_of_core = core_rate(run, row["age"], service)
        core = half_up(rate_of_core * annual_plan_pay)
        catch_up = max(Decimal(0), contribution - deferral_limit)
        prior = prior_pay.get(employee_id, Decimal(0))
        roth_required = year >= roth_from and roth_threshold > 0 and prior > roth_threshold
        roth = catch_up if roth_required else Decimal(0)
        counted_deferral = min(contribution, deferral_limit)  # catch-up does not count toward 415(c)
        excess = max(Decimal(0), counted_deferral + match + core - min(additions_limit, annual_plan_pay))
        core_cut = min(core, excess)
        match_cut = min(match, excess - core_cut)
        out[employee_id] = {
            "plan_pay": plan_pay,
            "contribution": contribution,
            "match": match - match_cut,
            "core": core - core_cut,
            "excess": excess,
            "match_per_pay_period": per_period_match,
            "match_true_up": true_up,
            "core_rate": rate_of_core,
            "prior_year_pay": prior,
            "roth_required": Decimal(roth_required),
            "roth_catch_up": roth,
            "pretax": contribution - roth,
        }
    return out


def plan_rule_mismatches(run: SimulationRun, year: int) -> list[Any]:
    """The new columns of int_employee_contributions and int_employee_match_calculations against the
    recomputation (issue #15 items 4-5), per employee; empty when every one agrees to the cent."""
    expected = expected_money(run, year)
    rows = run.query(
        "select c.employee_id, m.match_per_pay_period, m.match_true_up, m.core_contribution_rate, "
        "c.prior_year_compensation, c.roth_catch_up_required::int, c.roth_catch_up_contribution, "
        "c.pretax_contribution, c.roth_contribution "
        "from int_employee_contributions as c join int_employee_match_calculations as m "
        "using (scenario_id, employee_id, simulation_year) where c.simulation_year = ?",
        [year],
    )
    assert {r[0] for r in rows} == set(expected)
    # roth_contribution is the Roth catch-up: no other Roth deferral is modelled
    keys = (
        "match_per_pay_period",
        "match_true_up",
        "core_rate",
        "prior_year_pay",
        "roth_required",
        "roth_catch_up",
        "pretax",
        "roth_catch_up",
    )
    mismatches = []
    for employee_id, *values in rows:
        want = expected[employee_id]
        # money within a cent, as money_mismatches (the deferred pay is rounded once in SQL, twice here)
        tolerance = {"core_rate": Decimal("1e-9"), "roth_required": Decimal(0)}
        bad = [
            (key, got, want[key])
            for key, got in zip(keys, values, strict=True)
            if abs(Decimal(str(got)) - want[key]) > tolerance.get(key, CENT)
        ]
        if bad:
            mismatches.append((employee_id, bad))
    return mismatches


def summary_plan_rule_totals(run: SimulationRun, year: int) -> tuple[Any, ...]:
    return run.query(
        "select pretax_contributions, roth_catch_up_contributions, roth_catch_up_employees, match_true_up "
        "from rpt_yearly_summary where simulation_year = ?",
        [year],
    )[0]


def money_mismatches(run: SimulationRun, year: int) -> list[Any]:
    expected = expected_money(run, year)
    rows = snapshot(run, year)
    return [
        (employee_id, row["employee_contribution"], row["employer_match"], expected[employee_id])
        for employee_id, row in rows.items()
        if abs(row["employee_contribution"] - expected[employee_id]["contribution"]) > CENT
        or abs(row["employer_match"] - expected[employee_id]["match"]) > CENT
        or abs(row["employer_core_contribution"] - expected[employee_id]["core"]) > CENT
    ]


@pytest.mark.parametrize("year", PLAN_YEARS)
def test_deferrals_and_match_both_use_pay_capped_at_401a17(plan_run: SimulationRun, year: int) -> None:
    """Issue #15 bug: a 2% deferrer on $1.17M defers 2% of the capped pay and gets a 2% match on it."""
    assert money_mismatches(plan_run, year) == []
    rows = snapshot(plan_run, year)
    _, _, comp_limit = irs_limits(year)
    deferral_limit = irs_limits(year)[0]
    full_year_executives = [
        e
        for e, row in rows.items()
        if row["annual_compensation"] > 2 * comp_limit
        and row["deferral_rate"] * comp_limit < deferral_limit
        and row["termination_date"] is None
    ]
    assert full_year_executives, "the case is exercised"
    for employee_id in full_year_executives:
        # a low deferrer on $1.17M: deferral and match are both shares of the capped pay
        row = rows[employee_id]
        rate = row["deferral_rate"]
        assert row["employee_contribution"] == (comp_limit * rate).quantize(CENT)
        match_rate = min(_match_rate(rate), PLAN["match_cap_rate"])
        assert row["employer_match"] == (comp_limit * match_rate).quantize(CENT)


# ------------------------------------------------------------------------ escalation and enrollment timing


def uniform(seed: int, employee_id: str, year: int, kind: str) -> float:
    """The project's hash draw (macro planalign_uniform), recomputed."""
    digest = hashlib.md5(f"{seed}|{employee_id}|{year}|{kind}".encode()).hexdigest()
    return int(digest[:13], 16) / 2**52


def escalation_opted_out(seed: int, employee_id: str, first_due: int, year: int) -> bool:
    """Deferral response (on by default): opted out of escalation for good at a January 1 from the first
    one due (and the first simulated year) to `year` (draw escalation_opt_out of that year)."""
    rate = float(PLAN["escalation_opt_out_rate"]) if float(PLAN["deferral_response_enabled"]) else 0.0
    return any(
        uniform(seed, employee_id, y, "escalation_opt_out") < rate
        for y in range(max(first_due, PLAN_YEARS[0]), year + 1)
    )


def first_full_plan_year(enrolled_on: date) -> int:
    return enrolled_on.year if (enrolled_on.month, enrolled_on.day) == (1, 1) else enrolled_on.year + 1


def test_escalation_follows_the_full_plan_year_rule(plan_run: SimulationRun) -> None:
    """Who escalates each January 1, recomputed from the census and the earlier years' events: enrolled for
    escalation_delay_years full plan years, below the cap, never opted out, staying the year, and not opted
    out of escalation itself (escalation_opt_out_rate at each January 1 due, issue #20)."""
    seed = int(plan_run.vars["random_seed"])
    increment, cap, delay = (
        PLAN["escalation_increment"],
        PLAN["escalation_cap"],
        int(PLAN["escalation_delay_years"]),
    )
    effective = date(2024, 12, 31)
    enrolled_on = {
        e: effective
        for e, row in start_of_year_actives(plan_run, PLAN_YEARS[0]).items()
        if row["deferral_rate"] > 0
    }
    opted_out: set[str] = set()
    escalated_total = 0
    for year in PLAN_YEARS:
        start = start_of_year_actives(plan_run, year)
        by_employee = events_by_employee(plan_run, year)
        expected = {
            e: min(row["deferral_rate"] + increment, cap)
            for e, row in start.items()
            if e in enrolled_on
            and e not in opted_out
            and row["deferral_rate"] < cap
            and "termination" not in by_employee.get(e, {})
            and first_full_plan_year(enrolled_on[e]) + delay <= year
            and not escalation_opted_out(seed, e, first_full_plan_year(enrolled_on[e]) + delay, year)
        }
        actual = {
            e: kinds["deferral_escalation"]["deferral_rate_after"]
            for e, kinds in by_employee.items()
            if "deferral_escalation" in kinds
        }
        assert actual == expected, year
        for e, kinds in by_employee.items():
            if "deferral_escalation" in kinds:
                assert (kinds["deferral_escalation"]["effective_date"] - enrolled_on[e]).days > 365
            if "enrollment" in kinds:
                enrolled_on[e] = kinds["enrollment"]["effective_date"]
            if "enrollment_opt_out" in kinds:
                opted_out.add(e)
        escalated_total += len(actual)
    assert escalated_total > 0
    # census participants count as enrolled on 2024-12-31: their first full plan year is 2025
    assert not any("deferral_escalation" in k for k in events_by_employee(plan_run, 2025).values())


def test_auto_enrollment_window_crossing_december_31_carries_into_next_year(plan_run: SimulationRun) -> None:
    """Every hire's auto-enrollment decision (enrollment or opt-out) falls on hire date + window, in the hire
    year or the next one, unless they leave first; the opt-out draw is the project's hash draw."""
    window, opt_out = int(PLAN["auto_enrollment_window_days"]), float(PLAN["auto_enrollment_opt_out_rate"])
    seed = int(plan_run.vars["random_seed"])
    actual: set[tuple[str, int, str, date]] = set()
    expected: set[tuple[str, int, str, date]] = set()
    terminated_on: dict[str, date] = {}
    hires: dict[str, date] = {}
    for year in PLAN_YEARS:
        for e, kinds in events_by_employee(plan_run, year).items():
            if "hire" in kinds:
                hires[e] = kinds["hire"]["effective_date"]
            if "termination" in kinds:
                terminated_on[e] = kinds["termination"]["effective_date"]
            for kind in ("enrollment", "enrollment_opt_out"):
                if kind in kinds and e.startswith("NH"):
                    actual.add((e, year, kind, kinds[kind]["effective_date"]))
    carried = 0
    for e, hired in hires.items():
        decision = hired + timedelta(days=window)
        if decision.year not in PLAN_YEARS or decision > terminated_on.get(e, date.max):
            continue
        carried += decision.year > hired.year
        kind = (
            "enrollment_opt_out" if uniform(seed, e, decision.year, "enrollment") < opt_out else "enrollment"
        )
        expected.add((e, decision.year, kind, decision))
    assert actual == expected
    assert carried > 0, "some windows cross December 31"


# ----------------------------------------------------------------------------- SECURE 2.0 super catch-up


def test_ages_60_to_63_get_the_super_catch_up(plan_run: SimulationRun) -> None:
    """The 61-year-olds deferring 15% of $300,000 are capped at 402(g) + the super catch-up ($11,250 in
    2025), the 64-year-olds at 402(g) + the regular catch-up; every deferral recomputes (money test)."""
    super_capped = regular_capped = 0
    for year in PLAN_YEARS:
        deferral_limit = irs_limits(year)[0]
        for row in snapshot(plan_run, year).values():
            if row["employee_contribution"] == deferral_limit + catch_up_limit(year, row["age"]):
                if 60 <= row["age"] <= 63:
                    super_capped += 1
                    assert row["employee_contribution"] > deferral_limit + irs_limits(year)[1]
                elif row["age"] >= 50:
                    regular_capped += 1
    assert super_capped > 0 and regular_capped > 0


# ------------------------------------------------------------------------ core contribution and 415(c)


@pytest.mark.parametrize("year", RICH_YEARS)
def test_core_contribution_and_415c_recompute(rich_run: SimulationRun, year: int) -> None:
    """A 20% core contribution on plan compensation for everyone employed; annual additions (deferrals
    without catch-up + match + core) within the lesser of the 415(c) limit and plan compensation."""
    assert money_mismatches(rich_run, year) == []
    expected = expected_money(rich_run, year)
    assert any(e["excess"] > 0 for e in expected.values()), "415(c) binds"
    assert any(e["core"] > 0 and e["contribution"] == 0 for e in expected.values()), "core without deferral"
    limit = irs_limit(year, "annual_additions_limit", 1000)
    rows = rich_run.query(
        "select annual_additions from int_employee_match_calculations where simulation_year = ?", [year]
    )
    assert max(r[0] for r in rows) == limit


# ----------------------------------------------------------------------------- vesting and forfeitures


def vested_share(run: SimulationRun, years_of_service: int) -> Decimal:
    schedule = run.vars.get("vesting_schedule") or [
        {"years_of_service": int(r["years_of_service"]), "vested_share": r["vested_share"]}
        for r in seed_rows("config_vesting_schedule")
    ]
    shares = [
        Decimal(str(r["vested_share"])) for r in schedule if int(r["years_of_service"]) <= years_of_service
    ]
    return shares[-1] if shares else Decimal(0)


def full_years(start: date, end: date) -> int:
    return end.year - start.year - ((end.month, end.day) < (start.month, start.day))


def check_accounts(run: SimulationRun, years: tuple[int, ...]) -> None:
    """Recompute every employer account year by year: opening = last year's balance of a start-of-year
    active, + match + core; years of service from hire to termination or December 31; vested share from the
    schedule, or 1 from the normal retirement age; a leaver forfeits balance - vested. Then the summary's
    forfeitures and employer cost."""
    offset = bool(run.vars.get("forfeitures_offset_employer_cost", PLAN["forfeitures_offset_employer_cost"]))
    normal_retirement_age = int(
        run.vars.get("vesting_normal_retirement_age", PLAN["vesting_normal_retirement_age"])
    )
    carried: dict[str, Decimal] = {}
    forfeited_total = Decimal(0)
    for year in years:
        columns = (
            "employee_id, years_of_service, vested_share, opening_balance, balance, vested_balance, "
            "forfeiture"
        )
        accounts = {
            r[0]: r
            for r in run.query(
                f"select {columns} from int_employer_contribution_accounts where simulation_year = ?", [year]
            )
        }
        rows = snapshot(run, year)
        assert set(accounts) == set(rows)
        births = dict(
            run.query(
                "select employee_id, birth_date from int_workforce_snapshot_optimized "
                "where simulation_year = ?",
                [year],
            )
        )
        mismatches = []
        forfeitures = Decimal(0)
        for employee_id, row in rows.items():
            until = row["termination_date"] or date(year, 12, 31)
            service = full_years(row["hire_date"], until)
            # issue #23: fully vested from the normal retirement age (IRC 411(a))
            at_nra = full_years(births[employee_id], until) >= normal_retirement_age
            share = Decimal(1) if at_nra else vested_share(run, service)
            opening = carried.get(employee_id, Decimal(0))
            balance = opening + row["employer_match"] + row["employer_core_contribution"]
            vested = half_up(balance * share)
            forfeiture = balance - vested if row["employment_status"] == "terminated" else Decimal(0)
            got = accounts[employee_id]
            if (
                got[1] != service
                or Decimal(str(got[2])) != share
                or got[3] != opening
                or got[4] != balance
                or abs(got[5] - vested) > CENT
                or abs(got[6] - forfeiture) > CENT
                or got[5] + got[6] != (balance if row["employment_status"] == "terminated" else got[5])
            ):
                mismatches.append((employee_id, got, service, share, opening, balance, vested, forfeiture))
            forfeitures += got[6]
        assert mismatches == [], year
        carried = {
            e: opening_plus
            for e, opening_plus in (
                (e, accounts[e][4]) for e, r in rows.items() if r["employment_status"] == "active"
            )
        }
        summary = run.query(
            "select employer_match, employer_core_contributions, forfeitures, forfeitures_used, "
            "employer_cost, acp_refunds from rpt_yearly_summary where simulation_year = ?",
            [year],
        )[0]
        # issue #23: the employer pays the ACP refunds too (vested match paid out to the HCEs)
        contributions = summary[0] + summary[1] + summary[5]
        used = min(forfeitures, contributions) if offset else Decimal(0)
        assert summary[2:5] == (forfeitures, used, contributions - used)
        forfeited_total += forfeitures
    assert forfeited_total > 0, "leavers forfeit"


def test_vesting_and_forfeitures_default_graded_schedule(plan_run: SimulationRun) -> None:
    check_accounts(plan_run, PLAN_YEARS)
    shares = {
        r[0] for r in plan_run.query("select distinct vested_share from int_employer_contribution_accounts")
    }
    assert {0.0, 0.2, 1.0} <= shares, "the graded schedule is exercised"


def test_vesting_cliff_schedule_and_forfeitures_reduce_employer_cost(rich_run: SimulationRun) -> None:
    check_accounts(rich_run, RICH_YEARS)
    shares = {
        r[0] for r in rich_run.query("select distinct vested_share from int_employer_contribution_accounts")
    }
    assert shares == {0.0, 1.0}
    used = rich_run.query("select sum(forfeitures_used) from rpt_yearly_summary")[0][0]
    assert used > 0


# ------------------------------------------- graded core, match true-up, Roth catch-up (issue #15 items 4-5)


def check_summary_totals(run: SimulationRun, year: int) -> None:
    """rpt_yearly_summary's pre-tax, Roth catch-up and true-up totals are the sums over the employees (whose
    values plan_rule_mismatches recomputes); pre-tax + Roth is every deferral."""
    rows = run.query(
        "select c.pretax_contribution, c.roth_catch_up_contribution, m.match_true_up, "
        "c.employee_contribution "
        "from int_employee_contributions as c join int_employee_match_calculations as m "
        "using (scenario_id, employee_id, simulation_year) where c.simulation_year = ?",
        [year],
    )
    assert summary_plan_rule_totals(run, year) == (
        sum((r[0] for r in rows), Decimal(0)),
        sum((r[1] for r in rows), Decimal(0)),
        sum(1 for r in rows if r[1] > 0),
        sum((r[2] for r in rows), Decimal(0)),
    )
    assert sum(r[0] + r[1] for r in rows) == sum(r[3] for r in rows)


@pytest.mark.parametrize("year", PLAN_YEARS)
def test_default_plan_trues_up_the_match_and_makes_catch_ups_roth_from_2026(
    plan_run: SimulationRun, year: int
) -> None:
    """Default: the match is the plan year's (the per-period match of those who reach 402(g) early plus a
    year-end true-up); from 2026 the catch-up of anyone paid above the threshold last year is Roth."""
    assert plan_rule_mismatches(plan_run, year) == []
    check_summary_totals(plan_run, year)
    expected = expected_money(plan_run, year).values()
    assert any(e["match_true_up"] > 0 for e in expected), "front-loaders are trued up"
    assert all(e["core_rate"] == 0 for e in expected)
    roth = [e for e in expected if e["roth_catch_up"] > 0]
    if year < 2026:
        assert roth == [] and not any(e["roth_required"] for e in expected)
    else:
        # the 61- and 64-year-olds deferring 15% of $300,000 defer catch-ups, all Roth
        assert len(roth) >= 6
        assert all(e["prior_year_pay"] > irs_limit(year, "roth_catch_up_wage_threshold", 5000) for e in roth)


@pytest.mark.parametrize("year", RICH_YEARS)
def test_graded_core_per_period_match_and_early_roth_catch_up_recompute(
    graded_run: SimulationRun, year: int
) -> None:
    """GRADED_PLAN: the core rate by age and service, the match per pay period only (a deferrer who reaches
    402(g) early is matched only on the pay deferred on) and the Roth catch-up from 2025 (census pay rate
    above $145,000)."""
    assert money_mismatches(graded_run, year) == []
    assert plan_rule_mismatches(graded_run, year) == []
    check_summary_totals(graded_run, year)
    expected = expected_money(graded_run, year)
    rates = {e["core_rate"] for e in expected.values()}
    assert {Decimal("0.01"), Decimal("0.025"), Decimal("0.035"), Decimal("0.045")} <= rates, rates
    assert all(e["match_true_up"] == 0 for e in expected.values())
    # per period only: the 61-year-olds who reach 402(g) + catch-up early get less than the annual match
    rows = graded_run.query(
        "select count(*) from int_employee_match_calculations "
        "where simulation_year = ? and match_per_pay_period < match_annual",
        [year],
    )
    assert rows[0][0] > 0
    assert sum(1 for e in expected.values() if e["roth_catch_up"] > 0) >= 6


def test_dq_plan_rules_names_a_wrong_true_up_core_rate_or_roth_split(
    plan_run: SimulationRun, tmp_path: Path
) -> None:
    """On a copy with one wrong Roth split, true-up and core rate, dq_plan_rules names exactly those three
    (in the last year built: the year-scoped tables it also reads hold that year)."""
    copy = DbtWorkspace(tmp_path)
    shutil.copy(plan_run.workspace.database, copy.database)
    year = PLAN_YEARS[-1]
    year_vars = {**plan_run.vars, "simulation_year": year}
    with duckdb.connect(str(copy.database)) as connection:
        roth_employee = connection.execute(
            "select min(employee_id) from int_employee_contributions "
            "where simulation_year = ? and roth_catch_up_contribution > 0",
            [year],
        ).fetchone()
        trued_up = connection.execute(
            "select min(employee_id) from int_employee_match_calculations "
            "where simulation_year = ? and match_true_up > 0",
            [year],
        ).fetchone()
        assert roth_employee and roth_employee[0] and trued_up and trued_up[0]
        connection.execute(
            "update int_employee_contributions set roth_catch_up_contribution = 0, roth_contribution = 0 "
            "where simulation_year = ? and employee_id = ?",
            [year, roth_employee[0]],
        )
        connection.execute(
            "update int_employee_match_calculations set match_true_up = match_true_up + 1 "
            "where simulation_year = ? and employee_id = ?",
            [year, trued_up[0]],
        )
        connection.execute(
            "update int_employee_match_calculations set core_contribution_rate = 0.01 "
            "where simulation_year = ? and employee_id = ?",
            [year, trued_up[0]],
        )
    copy.dbt("run", "--select", "dq_plan_rules", vars=year_vars)
    with copy.connect() as connection:
        found = set(connection.execute("select employee_id, check_name from dq_plan_rules").fetchall())
    assert found == {
        (roth_employee[0], "roth_catch_up_not_applied"),
        (trued_up[0], "match_true_up_inconsistent"),
        (trued_up[0], "core_rate_not_the_plan"),
    }
