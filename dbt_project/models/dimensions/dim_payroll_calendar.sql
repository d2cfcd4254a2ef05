{#- One row per scenario and calendar year (start_year - 1 .. start_year + 60): boundaries and day counts for
    proration. -#}
with years as (
    select cast(seq as integer) + {{ var('start_year') | int }} - 2 as calendar_year
    from {{ planalign_sequence(62) }}
)

select
    scenarios.scenario_id,
    years.calendar_year,
    {{ planalign_make_date('years.calendar_year', 1, 1) }} as year_start,
    {{ planalign_make_date('years.calendar_year', 12, 31) }} as year_end,
    {{ planalign_days_between(
        planalign_make_date('years.calendar_year', 1, 1), planalign_make_date('years.calendar_year', 12, 31)
    ) }} + 1
        as days_in_year,
    26 as pay_periods
from years
cross join {{ ref('dim_scenarios') }} as scenarios
