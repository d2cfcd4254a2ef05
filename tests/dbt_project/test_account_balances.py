"""Participant account balances (issue #20, fct_account_balances), recomputed here in Python.

One three-year build of five scenarios side by side on a 300-employee generated census that carries the
optional opening_balance column: the defaults (lognormal returns, leavers cash out / roll over / stay),
the same seed under a stretch match (other contributions, the same market), the same seed with
deterministic returns, another seed, a scenario with no return and no leakage (whose forfeitures must
be exactly the employer-account model's), one with the table switched off and one whose top-heavy test
uses these balances. Every column of every row is recomputed from the model's inputs —
the census, the seed's parameters, the year's contributions, vesting and employment status — with the
balances carried from year to year here, never read back from the table; the return draw is recomputed
from the hash the project's draws use (seed|id|year|kind), so common random numbers are checked too.
"""

from __future__ import annotations

import csv
import hashlib
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from planalign.simulation.census import check_census, generate_census

from .simulation_support import DBT_PROJECT, SimulationRun, build_simulation

pytestmark = pytest.mark.slow

YEARS = (2025, 2026, 2027)
EFFECTIVE_DATE = date(2024, 12, 31)
SEED = 7
OTHER_SEED = 8
STRETCH_MATCH: dict[str, Any] = {"match_tiers": [{"employee_max": 0.06, "match_rate": 0.5}]}
SCENARIOS: list[dict[str, Any]] = [
    {"scenario_id": "base", "random_seed": SEED, "vars": {}},
    {"scenario_id": "stretch", "random_seed": SEED, "vars": STRETCH_MATCH},
    {"scenario_id": "flat", "random_seed": SEED, "vars": {"account_balances_deterministic_returns": True}},
    {"scenario_id": "other_seed", "random_seed": OTHER_SEED, "vars": {}},
    {
        "scenario_id": "still",
        "random_seed": SEED,
        "vars": {
            "account_balances_expected_return": 0,
            "account_balances_return_volatility": 0,
            "account_balances_distributions_enabled": False,
        },
    },
    {"scenario_id": "off", "random_seed": SEED, "vars": {"account_balances_enabled": False}},
    {"scenario_id": "top_heavy", "random_seed": SEED, "vars": {"account_balances_top_heavy": True}},
]
MONEY_COLUMNS = (
    "opening_balance",
    "employee_contributions",
    "employer_contributions",
    "investment_return",
    "distributions",
    "forfeitures",
    "closing_balance",
    "vested_balance",
    "cash_outs",
    "employer_source_closing_balance",
)


def _seed_parameters() -> dict[str, float]:
    path = DBT_PROJECT / "seeds" / "config_account_balance_parameters.csv"
    with path.open() as handle:
        return {row["parameter_name"]: float(row["parameter_value"]) for row in csv.DictReader(handle)}


def _parameters(scenario: dict[str, Any]) -> dict[str, float]:
    values = _seed_parameters()
    for name, value in scenario["vars"].items():
        if name.startswith("account_balances_"):
            values[name] = float(value)
    return values


def uniform(seed: int, key: str, year: int, kind: str) -> float:
    """The project's draw (macros/portable.sql): md5('seed|id|year|kind')'s first 13 hex digits / 2^52."""
    digest = hashlib.md5(f"{seed}|{key}|{year}|{kind}".encode()).hexdigest()
    return int(digest[:13], 16) / 4503599627370496.0


def annual_return(seed: int, year: int, p: dict[str, float]) -> float:
    """Lognormal with mean E and standard deviation vol, from a Box-Muller normal; exactly E when
    deterministic."""
    expected, vol = p["account_balances_expected_return"], p["account_balances_return_volatility"]
    if p["account_balances_deterministic_returns"] > 0 or vol == 0:
        return expected
    sigma = math.sqrt(math.log(1 + vol**2 / (1 + expected) ** 2))
    u1 = uniform(seed, "market", year, "market_return_u1")
    u2 = uniform(seed, "market", year, "market_return_u2")
    z = math.sqrt(-2 * math.log(1 - u1)) * math.cos(2 * math.pi * u2)
    return math.exp(math.log(1 + expected) - sigma * sigma / 2 + sigma * z) - 1


def cents(value: float) -> Decimal:
    """SQL round(value, 2) of a double (half away from zero), as the decimal(18, 2) it is cast to."""
    scaled = value * 100.0
    whole = math.floor(abs(scaled) + 0.5)
    return Decimal(int(math.copysign(whole, scaled)) if whole else 0) / 100


def census_path(root: Path) -> Path:
    """A generated census with the optional opening_balance: 70% of rows $0 to $60,000, the rest blank."""
    rows = generate_census(300, seed=23).to_pylist()
    rng = random.Random(5)
    for row in rows:
        row["opening_balance"] = round(rng.uniform(0, 60_000), 2) if rng.random() < 0.7 else None
    path = root / "census.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


@dataclass(frozen=True)
class Built:
    run: SimulationRun
    census: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    root = tmp_path_factory.mktemp("account_balances")
    census = census_path(root)
    run = build_simulation(root, census, YEARS, {"random_seed": SEED, "scenarios": SCENARIOS})
    yield Built(run, census)


def _census_openings(path: Path) -> dict[str, Decimal]:
    openings: dict[str, Decimal] = {}
    for row in pq.read_table(path).to_pylist():
        terminated = row["termination_date"] is not None and row["termination_date"] <= EFFECTIVE_DATE
        if not terminated and row["opening_balance"]:
            openings[row["employee_id"]] = Decimal(str(row["opening_balance"])).quantize(Decimal("0.01"))
    return openings


def recompute(built: Built) -> dict[tuple[str, str, int], dict[str, Any]]:
    """Every row of fct_account_balances, from the inputs: balances by source carried here year to year."""
    expected: dict[tuple[str, str, int], dict[str, Any]] = {}
    openings = _census_openings(built.census)
    for scenario in SCENARIOS:
        sid, seed, p = scenario["scenario_id"], scenario["random_seed"], _parameters(scenario)
        if p["account_balances_enabled"] == 0:
            continue
        # employee_id -> (employee-source, employer-source) money in the plan on January 1
        state: dict[str, tuple[Decimal, Decimal]] = {k: (v, Decimal(0)) for k, v in openings.items()}
        for year in YEARS:
            r = annual_return(seed, year, p)
            r_half = math.sqrt(1 + r) - 1
            employed = built.run.query(
                "select accounts.employee_id, accounts.employment_status, accounts.vested_share,"
                " accounts.employer_match + accounts.employer_core_contribution,"
                " coalesce(deferrals.employee_contribution, 0)"
                " from int_employer_contribution_accounts as accounts"
                " left join int_employee_contributions as deferrals"
                " on deferrals.scenario_id = accounts.scenario_id"
                " and deferrals.employee_id = accounts.employee_id"
                " and deferrals.simulation_year = accounts.simulation_year"
                " where accounts.scenario_id = ? and accounts.simulation_year = ?",
                [sid, year],
            )
            people = [(e, status, share, er, ee) for e, status, share, er, ee in employed]
            employed_ids = {row[0] for row in people}
            people += [
                (e, "former", 1.0, Decimal(0), Decimal(0))
                for e, (ee_bal, er_bal) in sorted(state.items())
                if e not in employed_ids and ee_bal + er_bal > 0
            ]
            next_state: dict[str, tuple[Decimal, Decimal]] = {}
            for employee_id, status, share, er_contrib, ee_contrib in people:
                ee_open, er_open = state.get(employee_id, (Decimal(0), Decimal(0)))
                ee_ret = cents(float(ee_open) * r + float(ee_contrib) * r_half)
                er_ret = cents(float(er_open) * r + float(er_contrib) * r_half)
                ee_money = ee_open + ee_contrib + ee_ret
                er_money = er_open + er_contrib + er_ret
                forfeit = er_money - cents(float(er_money) * share) if status == "terminated" else Decimal(0)
                vested = ee_money + er_money - forfeit
                kind: str | None = None
                if status == "terminated" and vested > 0:
                    u = uniform(seed, employee_id, year, "leaver_distribution")
                    if p["account_balances_distributions_enabled"] == 0:
                        kind = "stay"
                    elif vested <= Decimal(str(p["account_balances_cash_out_limit"])):
                        kind = "cash_out"
                    elif vested <= Decimal(str(p["account_balances_involuntary_limit"])):
                        kind = "cash_out" if u < p["account_balances_small_cash_out_share"] else "rollover"
                    elif u < p["account_balances_cash_out_share"]:
                        kind = "cash_out"
                    elif u < p["account_balances_cash_out_share"] + p["account_balances_rollover_share"]:
                        kind = "rollover"
                    else:
                        kind = "stay"
                paid = vested if kind in ("cash_out", "rollover") else Decimal(0)
                closing = ee_money + er_money - forfeit - paid
                er_closing = Decimal(0) if paid > 0 else er_money - forfeit
                expected[(sid, employee_id, year)] = {
                    "employment_status": status,
                    "opening_balance": ee_open + er_open,
                    "employee_contributions": ee_contrib,
                    "employer_contributions": er_contrib,
                    "investment_return": ee_ret + er_ret,
                    "distributions": paid,
                    "forfeitures": forfeit,
                    "closing_balance": closing,
                    "vested_balance": ee_money + cents(float(er_money) * share)
                    if status == "active"
                    else closing,
                    "cash_outs": paid if kind == "cash_out" else Decimal(0),
                    "employer_source_closing_balance": er_closing,
                    "distribution_type": kind,
                    "annual_return": r,
                }
                if closing > 0:
                    next_state[employee_id] = (closing - er_closing, er_closing)
            state = next_state
    return expected


def test_every_column_recomputed_to_the_cent(built: Built) -> None:
    expected = recompute(built)
    columns = ["employment_status", *MONEY_COLUMNS, "distribution_type", "annual_return"]
    actual = {
        (row[0], row[1], row[2]): dict(zip(columns, row[3:], strict=True))
        for row in built.run.query(
            f"select scenario_id, employee_id, simulation_year, {', '.join(columns)}"
            " from fct_account_balances"
        )
    }
    assert set(actual) == set(expected)
    mismatches = []
    for key, want in expected.items():
        got = actual[key]
        for column in columns:
            if column == "annual_return":
                ok = math.isclose(got[column], want[column], rel_tol=0, abs_tol=1e-12)
            else:
                ok = got[column] == want[column]
            if not ok:
                mismatches.append((key, column, got[column], want[column]))
    assert not mismatches, f"{len(mismatches)} mismatches, e.g. {mismatches[:5]}"
    # the recomputation went through every branch of the rules
    kinds = {want["distribution_type"] for want in expected.values()}
    assert {"cash_out", "rollover", "stay", None} <= kinds
    assert {want["employment_status"] for want in expected.values()} == {"active", "terminated", "former"}
    assert sum(1 for want in expected.values() if want["forfeitures"] > 0) > 0
    assert len(expected) > 2000


def test_closing_is_opening_plus_flows_exactly(built: Built) -> None:
    broken, rows = built.run.query(
        "select count(*) filter (where closing_balance <> opening_balance + employee_contributions"
        " + employer_contributions + investment_return - distributions - forfeitures), count(*)"
        " from fct_account_balances"
    )[0]
    assert rows > 0 and broken == 0


def test_same_seed_same_market_and_deterministic_mode(built: Built) -> None:
    """One return per seed and year for the whole plan: the same in every scenario with that seed
    (common random numbers), another with another seed, exactly the expected return in deterministic
    mode."""
    rows = built.run.query(
        "select distinct scenario_id, simulation_year, annual_return from fct_account_balances"
    )
    returns = {(sid, year): r for sid, year, r in rows}
    assert len(returns) == len(rows)  # one return per scenario and year
    expected_return = _seed_parameters()["account_balances_expected_return"]
    for year in YEARS:
        assert returns[("base", year)] == returns[("stretch", year)]  # common random numbers
        assert returns[("base", year)] != returns[("other_seed", year)]
        assert returns[("flat", year)] == expected_return  # exactly, not approximately
        assert returns[("base", year)] != expected_return
    # the stretch match changed contributions, not the market
    differ = built.run.query(
        "select count(*) from fct_account_balances as a join fct_account_balances as b"
        " on a.employee_id = b.employee_id and a.simulation_year = b.simulation_year"
        " where a.scenario_id = 'base' and b.scenario_id = 'stretch'"
        " and a.employer_contributions <> b.employer_contributions"
    )[0][0]
    assert differ > 0


def test_forfeitures_reconcile_with_the_employer_accounts(built: Built) -> None:
    """With no investment return, every leaver's forfeiture is exactly int_employer_contribution_accounts'
    (census balances are employee money, fully vested, so they forfeit nothing)."""
    pairs = built.run.query(
        "select accounts.forfeiture, balances.forfeitures from int_employer_contribution_accounts as accounts"
        " join fct_account_balances as balances on balances.scenario_id = accounts.scenario_id"
        " and balances.employee_id = accounts.employee_id"
        " and balances.simulation_year = accounts.simulation_year"
        " where accounts.scenario_id = 'still'"
    )
    assert len(pairs) > 1000
    assert [a for a, _ in pairs] == [b for _, b in pairs]
    assert sum(a for a, _ in pairs) > 0


def test_a_disabled_scenario_is_empty(built: Built) -> None:
    assert built.run.query("select count(*) from fct_account_balances where scenario_id = 'off'") == [(0,)]


def test_top_heavy_uses_these_balances_only_when_switched_on(built: Built) -> None:
    """account_balances_top_heavy: the key employees' share of (closing balance + the year's distributions) of
    everyone employed in the year (IRC 416(g)(3)(A), (4)(E)); off: today's balances (deferrals since
    start_year + the employer account), so the default results are unchanged."""
    key = {
        (sid, e, y): bool(k)
        for sid, e, y, k in built.run.query(
            "select scenario_id, employee_id, simulation_year, is_key_employee"
            " from int_nondiscrimination_employees"
        )
    }
    got = {
        (sid, y): (key_balances, total)
        for sid, y, key_balances, total in built.run.query(
            "select scenario_id, simulation_year, key_employee_balances, total_balances"
            " from nondiscrimination_results"
        )
    }
    for year in YEARS:
        rows = built.run.query(
            "select employee_id, closing_balance + distributions from fct_account_balances"
            " where scenario_id = 'top_heavy' and simulation_year = ? and employment_status <> 'former'",
            [year],
        )
        total = sum((amount for _, amount in rows), Decimal(0))
        key_total = sum((amount for e, amount in rows if key[("top_heavy", e, year)]), Decimal(0))
        assert got[("top_heavy", year)] == (key_total, total)
        assert key_total > 0
        today = built.run.query(
            "select coalesce(sum(account_balance) filter (where is_key_employee), 0), sum(account_balance)"
            " from int_nondiscrimination_employees where scenario_id = 'base' and simulation_year = ?",
            [year],
        )[0]
        assert got[("base", year)] == today
        assert got[("base", year)] != got[("top_heavy", year)]


def test_census_opening_balance_is_optional_and_checked(tmp_path: Path) -> None:
    """`planalign census --check` (the same rules as the run): a bad opening_balance rejects its row; blank or
    absent is fine (0)."""
    rows = generate_census(20, seed=3).to_pylist()
    header = [*rows[0], "opening_balance"]
    texts = ["12.5", "", "nan", "-1", "abc", "2e9", "0"]
    lines = [",".join(header)]
    for index, row in enumerate(rows):
        cells = ["" if row[h] is None else str(row[h]) for h in header[:-1]]
        lines.append(",".join([*cells, texts[index % len(texts)]]))
    path = tmp_path / "census.csv"
    path.write_text("\n".join(lines) + "\n")
    check = check_census(path, max_reject_share=1.0)
    bad = sum(1 for index in range(len(rows)) if texts[index % len(texts)] in ("nan", "-1", "abc", "2e9"))
    assert check.reasons == {"invalid_opening_balance": bad}
    without = tmp_path / "without.csv"
    without.write_text("\n".join(line.rsplit(",", 1)[0] for line in lines) + "\n")
    assert check_census(without).rejected_rows == 0


def test_report_table_sums_the_mart(built: Built) -> None:
    """rpt_account_balances: one row per scenario and year (the switched-off scenario too, with zeros), each
    total the sum of fct_account_balances, rollovers = distributions - cash-outs."""
    report = {
        (row[0], row[1]): row[2:]
        for row in built.run.query(
            "select scenario_id, simulation_year, opening_balance, employee_contributions,"
            " employer_contributions, investment_return, distributions, cash_outs, forfeitures,"
            " closing_balance, vested_balance, leavers,"
            " leavers_cashed_out + leavers_rolled_over + leavers_stayed, rollovers from rpt_account_balances"
        )
    }
    assert set(report) == {(s["scenario_id"], y) for s in SCENARIOS for y in YEARS}
    for (sid, year), row in report.items():
        money = list(row[:9])
        want = built.run.query(
            "select coalesce(sum(opening_balance), 0), coalesce(sum(employee_contributions), 0),"
            " coalesce(sum(employer_contributions), 0), coalesce(sum(investment_return), 0),"
            " coalesce(sum(distributions), 0), coalesce(sum(cash_outs), 0), coalesce(sum(forfeitures), 0),"
            " coalesce(sum(closing_balance), 0), coalesce(sum(vested_balance), 0),"
            " count(*) filter (where employment_status = 'terminated'),"
            " count(distribution_type)"
            " from fct_account_balances where scenario_id = ? and simulation_year = ?",
            [sid, year],
        )[0]
        assert money == list(want[:9]), (sid, year)
        assert row[9] == want[9] and row[10] == want[10]
        assert row[11] == row[4] - row[5]
    assert all(value == 0 for value in report[("off", YEARS[-1])][:9])
