{#- Start-of-year actives with age, tenure and their hazard bands as of the previous December 31. -#}
{%- set year = var('simulation_year') | int %}
with prev as (
    select
        *,
        {{ planalign_full_years('birth_date', planalign_make_date(year - 1, 12, 31)) }} as age_at_start,
        {{ planalign_full_years('hire_date', planalign_make_date(year - 1, 12, 31)) }} as tenure_at_start
    from {{ ref('int_workforce_previous_year') }}
)

select
    prev.*,
    {{ year }} as simulation_year,
    ages.age_band,
    tenures.tenure_band
from prev
left join {{ ref('stg_config_age_bands') }} as ages
    on prev.scenario_id = ages.scenario_id
    and prev.age_at_start between ages.min_age and ages.max_age
left join {{ ref('stg_config_tenure_bands') }} as tenures
    on prev.scenario_id = tenures.scenario_id
    and prev.tenure_at_start between tenures.min_tenure and tenures.max_tenure
