"""The year-range rules: what a run may build, replace or refuse, given what the database holds."""

from __future__ import annotations

import pytest

from planalign.errors import YearRangeError
from planalign.simulation.state import CompletedYear
from planalign.simulation.year_plan import Promotion, plan_stage, plan_years, span

HASH = "h1"


def held(*years: int, config_hash: str = HASH) -> list[CompletedYear]:
    return [CompletedYear(y, "run", config_hash, "t") for y in years]


def test_a_new_database_saves_each_year_as_it_completes() -> None:
    plan = plan_years(2025, 2027, start_year=2025, completed=[], config_hash=HASH)
    assert plan.years == (2025, 2026, 2027)
    assert plan.promotion is Promotion.EACH_YEAR
    assert plan.replaced == () and plan.kept == ()


def test_a_rerun_of_the_same_range_replaces_everything_at_the_end() -> None:
    plan = plan_years(2025, 2027, start_year=2025, completed=held(2025, 2026, 2027), config_hash="other")
    assert plan.promotion is Promotion.AT_END
    assert plan.replaced == (2025, 2026, 2027)
    assert plan.rebuild_from == 2025


def test_a_longer_rerun_replaces_at_the_end_and_adds_years() -> None:
    plan = plan_years(2025, 2029, start_year=2025, completed=held(2025, 2026), config_hash=HASH)
    assert plan.years == (2025, 2026, 2027, 2028, 2029)
    assert plan.promotion is Promotion.AT_END


def test_resume_adds_years_after_the_last_complete_one() -> None:
    plan = plan_years(2025, 2027, start_year=2025, completed=held(2025), config_hash=HASH, resume=True)
    assert plan.years == (2026, 2027)
    assert plan.promotion is Promotion.EACH_YEAR
    assert plan.kept == (2025,)


def test_resume_with_nothing_left_to_do_runs_no_year() -> None:
    plan = plan_years(2025, 2026, start_year=2025, completed=held(2025, 2026), config_hash=HASH, resume=True)
    assert plan.years == ()


def test_resume_under_another_configuration_is_refused() -> None:
    with pytest.raises(YearRangeError, match=r"cannot resume.*2025"):
        plan_years(
            2025, 2027, start_year=2025, completed=held(2025, config_hash="x"), config_hash=HASH, resume=True
        )


def test_shrinking_the_range_is_refused_and_names_the_flag() -> None:
    with pytest.raises(YearRangeError, match=r"would delete 2026–2027.*--end-year 2027.*--replace-years"):
        plan_years(2025, 2025, start_year=2025, completed=held(2025, 2026, 2027), config_hash=HASH)


def test_an_earlier_range_that_would_delete_every_year_is_refused() -> None:
    with pytest.raises(YearRangeError, match=r"would delete 2025–2027.*--replace-years"):
        plan_years(2020, 2021, start_year=2020, completed=held(2025, 2026, 2027), config_hash=HASH)


def test_a_later_census_start_on_a_database_of_another_simulation_is_refused() -> None:
    with pytest.raises(YearRangeError, match=r"starts in 2025.*census in 2026.*mixed.*--replace-years"):
        plan_years(2026, 2027, start_year=2026, completed=held(2025, 2026, 2027), config_hash=HASH)


def test_a_later_first_year_needs_the_previous_years_complete_under_this_configuration() -> None:
    plan = plan_years(2026, 2027, start_year=2025, completed=held(2025, 2026, 2027), config_hash=HASH)
    assert plan.years == (2026, 2027) and plan.kept == (2025,) and plan.promotion is Promotion.AT_END
    with pytest.raises(YearRangeError, match="does not hold 2025 complete"):
        plan_years(2026, 2027, start_year=2025, completed=[], config_hash=HASH)
    with pytest.raises(YearRangeError, match="different configuration"):
        plan_years(2026, 2027, start_year=2025, completed=held(2025, config_hash="x"), config_hash=HASH)


def test_replace_years_discards_everything_and_starts_from_the_census() -> None:
    plan = plan_years(
        2020, 2021, start_year=2020, completed=held(2025, 2026, 2027), config_hash=HASH, replace_years=True
    )
    assert plan.years == (2020, 2021)
    assert plan.rebuild_from == 2020 and plan.replaced == (2025, 2026, 2027)
    assert plan.promotion is Promotion.AT_END
    with pytest.raises(YearRangeError, match=r"starts in simulation\.start_year"):
        plan_years(2026, 2027, start_year=2025, completed=[], config_hash=HASH, replace_years=True)


def test_stage_mode_needs_the_previous_year_complete_under_this_configuration() -> None:
    plan = plan_stage(2026, start_year=2025, completed=held(2025, 2026, 2027), config_hash=HASH)
    assert plan.years == (2026,) and plan.stage_year == 2026
    assert plan.kept == (2025,) and plan.replaced == (2026, 2027)
    assert plan_stage(2025, start_year=2025, completed=[], config_hash=HASH).years == (2025,)
    with pytest.raises(YearRangeError, match=r"does not hold 2025 complete.*--end-year 2025"):
        plan_stage(2026, start_year=2025, completed=[], config_hash=HASH)
    with pytest.raises(YearRangeError, match="different configuration"):
        plan_stage(2026, start_year=2025, completed=held(2025, config_hash="x"), config_hash=HASH)
    with pytest.raises(YearRangeError, match="starts in 2025"):
        plan_stage(2026, start_year=2026, completed=held(2025), config_hash=HASH)


@pytest.mark.parametrize(
    ("years", "text"),
    [([], "no year"), ([2025], "2025"), ([2025, 2026, 2027], "2025–2027"), ([2025, 2027], "2025, 2027")],
)
def test_span(years: list[int], text: str) -> None:
    assert span(years) == text
