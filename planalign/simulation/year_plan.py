"""Which years a run builds, which years of the database it replaces, and when its results are saved.

Pure decisions over what the database already holds (its complete years and the configuration hash each
was simulated under), made before anything is written. The rules protect one promise: the database holds
one simulation — consecutive complete years from the census start, all simulated under one configuration
— and a run never loses or mixes what it holds without being told to:

- a run that only *adds* years after the last complete one (a new database, `--resume`) saves each year
  as it completes (`Promotion.EACH_YEAR`); a failure keeps the years already saved;
- a run that *rebuilds* years the database holds (a plain re-run) keeps the old years until every new year
  has succeeded, then replaces them all at once (`Promotion.AT_END`);
- a run that would delete complete years it does not rebuild (an `--end-year` below the last one), build
  a year without its previous year, or put years of two simulations side by side (a later `--start-year`,
  a different configuration under kept years) is refused with `YearRangeError`, naming the flag that does
  it deliberately: `--replace-years` discards every year the database holds and simulates from the census.

Before the years, the kind of result (`check_replaces`): a run never replaces a database holding complete
years of another kind of result — a sweep for a simulation, a simulation or another sweep for a sweep
(`planalign.simulation.state.DatabaseIdentity` says which results are the same) — unless told to, with
`--replace-years` (`simulate` and `scenarios run` alike).

After the parse, before any work, the tables (`check_table_columns`): an incremental table with an enforced
contract that the database holds with other columns than the project declares (a database built by an earlier
version of planalign) is refused when the run keeps years of it, since dbt would stop on it mid-run
(`on_schema_change: fail`); a run that rebuilds every year drops it from its working copy first.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from planalign.errors import DatabaseHoldsOtherResultError, TableColumnsChangedError, YearRangeError
from planalign.simulation.state import CompletedYear, DatabaseContents, DatabaseIdentity


class Promotion(enum.Enum):
    """When the run's working copy replaces the user's database (see `planalign.simulation.working_copy`)."""

    EACH_YEAR = "each_year"
    """The run only adds years: each completed year is saved at once, so a failure or an interruption
    keeps every year finished so far and `--resume` continues from there. Costs one copy of the database
    file per year."""

    AT_END = "at_end"
    """The run rebuilds years the database holds: nothing is saved until every year has succeeded, then the
    database is replaced in one step, so a failure leaves the previous simulation exactly as it was."""


@dataclass(frozen=True)
class YearPlan:
    """What a run will do to the database. `rebuild_from`: the working copy's years from this one on are
    deleted before the run builds them again (None: nothing to delete)."""

    years: tuple[int, ...]
    promotion: Promotion
    rebuild_from: int | None
    kept: tuple[int, ...]
    replaced: tuple[int, ...]
    stage_year: int | None = None
    """Stage mode: the one year rebuilt in place (it and every later year become incomplete)."""


def span(years: Sequence[int]) -> str:
    """`2025–2027` for consecutive years, `2025, 2027` otherwise, `no year` for none."""
    ys = sorted(set(years))
    if not ys:
        return "no year"
    if len(ys) > 1 and ys == list(range(ys[0], ys[-1] + 1)):
        return f"{ys[0]}–{ys[-1]}"
    return ", ".join(str(y) for y in ys)


def check_replaces(
    held: DatabaseContents,
    identity: DatabaseIdentity,
    *,
    replace: bool,
    stage: bool = False,
    database: str = "the database",
) -> None:
    """Refuse, with `DatabaseHoldsOtherResultError`, a run writing `identity`'s result into a database whose
    complete years are another result's, unless `replace` (`--replace-years`) says to discard them.

    Nothing is lost, and nothing refused, when the database holds no complete year or holds the same result
    (a re-run of the simulation, or of the same sweep). The message says what the database holds (kind,
    name, years, members), what would be lost and how to replace it deliberately or keep it."""
    other = held.identity
    if replace or other is None or not held.years or other.is_same_result(identity):
        return
    years = span(held.years)
    if other.kind == "sweep":
        lost = f"the results of its {other.members} members for {years} would be lost"
    else:
        lost = f"its results for {years} would be lost"
    if identity.kind == "sweep":
        this = f"this sweep ({identity.name!r}, scenario file {identity.source})"
        advice = (
            "To replace it deliberately, run `planalign scenarios run` again with --replace-years "
            "(replace_database=True); to keep it, set `database:` in the scenario file to another file"
        )
    elif stage:
        this = "this stage run"
        advice = (
            "A stage run cannot replace it: write to another --database, or simulate whole years with "
            "--replace-years to replace it deliberately"
        )
    else:
        this = "this simulation"
        advice = (
            "To replace it deliberately, add --replace-years (replace_years=True); to keep it, write to "
            "another --database"
        )
    raise DatabaseHoldsOtherResultError(
        f"{database} holds {other.describe()}, complete for {years}; {this} would replace it and {lost}. "
        f"{advice}."
    )


def plan_years(
    first: int,
    last: int,
    *,
    start_year: int,
    completed: Sequence[CompletedYear],
    config_hash: str,
    resume: bool = False,
    replace_years: bool = False,
    database: str = "the database",
) -> YearPlan:
    """Decide the years of a `simulate` run from `first` to `last` (census state at `start_year`)."""
    done = sorted(c.simulation_year for c in completed)
    if last < first:
        raise YearRangeError(f"the end year {last} is before the start year {first}; swap them")
    if first < start_year:
        raise YearRangeError(
            f"the first year {first} is before the simulation's start year {start_year}, where the census is "
            "the starting state; start at or after it"
        )
    if replace_years:
        if first != start_year:
            raise YearRangeError(
                f"--replace-years simulates from the census, so it starts in simulation.start_year "
                f"({start_year}), not {first}; drop the later start year"
            )
        years = tuple(range(first, last + 1))
        return YearPlan(
            years=years,
            promotion=Promotion.AT_END if done else Promotion.EACH_YEAR,
            rebuild_from=min([first, *done]),
            kept=(),
            replaced=tuple(done),
        )

    advice = (
        f"To discard them and simulate {span(range(start_year, last + 1))} from the census, add "
        "--replace-years (replace_years=True); to keep them, write to another --database"
    )
    earlier = [y for y in done if y < start_year]
    if earlier:
        raise YearRangeError(
            f"{database} holds years {span(done)} of a simulation that starts in {done[0]}, but this run "
            f"starts from the census in {start_year}: the two simulations would be mixed in one database. "
            f"{advice}."
        )
    mismatched = [c.simulation_year for c in completed if c.config_hash != config_hash]
    if resume:
        if mismatched:
            raise YearRangeError(
                f"cannot resume: {database} holds years {span(mismatched)} simulated with a different "
                "configuration or census. Run without --resume to simulate every year again, or restore the "
                "configuration those years were simulated with."
            )
        nxt = first
        while nxt in done:
            nxt += 1
        first = nxt
        if first > last:
            return YearPlan((), Promotion.EACH_YEAR, None, tuple(done), ())

    missing = [y for y in range(start_year, first) if y not in done]
    if missing:
        raise YearRangeError(
            f"year {first} is built from year {first - 1}'s end state, but {database} does not hold "
            f"{span(missing)} complete. Start at {start_year}, or use --resume to continue after the last "
            "complete year."
        )
    stale = [y for y in range(start_year, first) if y in mismatched]
    if stale:
        raise YearRangeError(
            f"{database} holds {span(stale)} simulated with a different configuration or census; building "
            f"{first} on top of them would mix two simulations. Start at {start_year} to simulate every year "
            "with this configuration."
        )
    beyond = [y for y in done if y > last]
    if beyond:
        raise YearRangeError(
            f"{database} holds {span(done)}; simulating {span(range(first, last + 1))} would delete "
            f"{span(beyond)}, which this run does not rebuild and which would no longer follow from the "
            f"years before them. Simulate through {beyond[-1]} (--end-year {beyond[-1]}) to rebuild every "
            f"year. {advice}."
        )
    years = tuple(range(first, last + 1))
    replaced = tuple(y for y in done if first <= y <= last)
    return YearPlan(
        years=years,
        promotion=Promotion.AT_END if replaced else Promotion.EACH_YEAR,
        rebuild_from=first,
        kept=tuple(y for y in done if y < first),
        replaced=replaced,
    )


def plan_stage(
    year: int,
    *,
    start_year: int,
    completed: Sequence[CompletedYear],
    config_hash: str,
    database: str = "the database",
) -> YearPlan:
    """Decide a stage-mode run (`--stage S --year Y`): it rebuilds year Y up to stage S from year Y−1's
    complete state and marks Y and every later year incomplete; it never touches another year's rows."""
    done = sorted(c.simulation_year for c in completed)
    earlier = [y for y in done if y < start_year]
    if earlier:
        raise YearRangeError(
            f"{database} holds years {span(done)} of a simulation that starts in {done[0]}, but the "
            f"configuration starts in {start_year}; run the stage with the configuration those years were "
            "simulated with, or write to another --database."
        )
    missing = [y for y in range(start_year, year) if y not in done]
    if missing:
        raise YearRangeError(
            f"a stage of {year} is built from {year - 1}'s end state, but {database} does not hold "
            f"{span(missing)} complete. Simulate them first: `planalign simulate --end-year {year - 1}`."
        )
    hashes = {c.simulation_year: c.config_hash for c in completed}
    stale = [y for y in range(start_year, year) if hashes.get(y) != config_hash]
    if stale:
        raise YearRangeError(
            f"{database} holds {span(stale)} simulated with a different configuration or census; a stage "
            f"of {year} built with this configuration would mix two simulations. Run `planalign simulate` "
            "with this configuration first, or go back to the configuration those years used."
        )
    return YearPlan(
        years=(year,),
        promotion=Promotion.AT_END,
        rebuild_from=None,
        kept=tuple(y for y in done if y < year),
        replaced=tuple(y for y in done if y >= year),
        stage_year=year,
    )


def check_table_columns(
    declared: dict[str, tuple[str, ...]],
    held: dict[str, tuple[str, ...]],
    plan: YearPlan,
    *,
    start_year: int,
    database: str = "the database",
) -> list[str]:
    """The tables of `held` (relation -> its columns in the database) whose columns differ from `declared`
    (relation -> the columns the dbt project's contract declares): a database built by an earlier version.
    dbt appends to such a table and stops with a schema-change error in the middle of the run, so when the
    run keeps years of the database (appending a year, resuming, a stage) this refuses
    (`TableColumnsChangedError`); when it rebuilds every year the database holds, the tables are returned, for
    the caller to drop from its working copy before the build (every row of them would be replaced)."""
    changed: list[str] = []
    described: list[str] = []
    for relation, columns in sorted(declared.items()):
        have = held.get(relation)
        if have is None or set(have) == set(columns):
            continue
        changed.append(relation)
        parts = []
        if missing := [c for c in columns if c not in have]:
            parts.append(f"lacks {', '.join(missing)}")
        if extra := [c for c in have if c not in columns]:
            parts.append(f"has {', '.join(extra)}, which this version does not build")
        name = ".".join(p.strip('"') for p in relation.split(".")[-2:])
        described.append(f"{name} {' and '.join(parts)}")
    if not changed or not plan.years or (not plan.kept and plan.stage_year is None):
        return changed if plan.years else []
    kept = span(plan.kept) if plan.kept else "the other years"
    raise TableColumnsChangedError(
        f"{database} was built by another version of planalign: {'; '.join(described)}. This run keeps "
        f"{kept}, whose tables dbt would append to, and it would stop in the middle of the run; nothing was "
        f"done and the database is unchanged. Simulate every year again (--start-year {start_year} "
        "--replace-years), or into a new database file (--database NEW.duckdb)."
    )
