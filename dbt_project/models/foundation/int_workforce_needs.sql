{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='scenario_id, simulation_year',
          on_schema_change='fail') }}
{#-
  How many people leave and join this year so that year-end actives hit the growth target:
    target        = round(start * (1 + growth))
    experienced   = max(round(start * termination_rate), retirements)   (retirements are part of turnover)
    net           = target - (start - experienced)
    hires         = ceil(net / (1 - new_hire_termination_rate))   when net > 0, else 0
    extra         = -net                                          when net < 0 (extra terminations)
    new-hire terms = round(hires * new_hire_termination_rate)
-#}
{#- counted per scenario from params (one row each), so a scenario without actives counts 0 -#}
with params as (
    select * from {{ ref('int_effective_parameters') }}
),

start_counts as (
    select scenario_id, count(*) as starting_actives
    from {{ ref('int_active_employees_prev_year_snapshot') }}
    group by scenario_id
),

retirement_counts as (
    select scenario_id, count(*) filter (where is_retiring) as retirements
    from {{ ref('int_hazard_retirement') }}
    group by scenario_id
),

counted as (
    select
        params.*,
        coalesce(start_counts.starting_actives, 0) as starting_actives,
        coalesce(retirement_counts.retirements, 0) as retirements
    from params
    left join start_counts on params.scenario_id = start_counts.scenario_id
    left join retirement_counts on params.scenario_id = retirement_counts.scenario_id
),

base as (
    select
        scenario_id,
        simulation_year,
        starting_actives,
        target_growth_rate,
        total_termination_rate,
        new_hire_termination_rate,
        cast(round(starting_actives * (1 + target_growth_rate)) as integer) as target_ending_actives,
        cast(retirements as integer) as retirements,
        cast(least(starting_actives, greatest(retirements, round(starting_actives * total_termination_rate)))
            as integer) as base_experienced_terminations
    from counted
),

net as (
    select
        *,
        target_ending_actives - (starting_actives - base_experienced_terminations) as net_hires_needed
    from base
),

solved as (
    select
        *,
        case
            when net_hires_needed > 0
                {# the epsilon keeps float noise (30 / 0.75 = 40.000000001) from adding a hire #}
                then cast(ceil(net_hires_needed / greatest(1 - new_hire_termination_rate, 1e-6) - 1e-9) as integer)
            else 0
        end as total_hires_needed,
        case when net_hires_needed < 0 then least(-net_hires_needed, starting_actives - base_experienced_terminations)
            else 0 end as additional_terminations
    from net
)

select
    scenario_id,
    simulation_year,
    starting_actives,
    target_growth_rate,
    total_termination_rate,
    new_hire_termination_rate,
    target_ending_actives,
    net_hires_needed,
    retirements,
    base_experienced_terminations,
    cast(additional_terminations as integer) as additional_terminations,
    cast(base_experienced_terminations + additional_terminations as integer) as experienced_terminations,
    total_hires_needed,
    cast(round(total_hires_needed * new_hire_termination_rate) as integer) as new_hire_terminations,
    cast(starting_actives - base_experienced_terminations - additional_terminations + total_hires_needed
        - round(total_hires_needed * new_hire_termination_rate) as integer) as expected_ending_actives
from solved
