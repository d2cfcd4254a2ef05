{#- Compensation levers by scenario and job level for the year: merit (the scenario's var merit_rate_level_N,
    else the top-level var, else the seed) and promotion raise. One select per scenario. -#}
{%- set year = var('simulation_year') | int %}
{%- for scenario in planalign_scenarios() %}
select
    levers.scenario_id,
    {{ year }} as simulation_year,
    levers.job_level,
    coalesce(case levers.job_level
        when -1 then cast(null as double)
        {%- for level in range(1, 6) %}
        {%- set override = planalign_scenario_var(scenario, 'merit_rate_level_' ~ level) %}
        {%- if override is not none %}
        when {{ level }} then cast('{{ planalign_number_literal(
            override, planalign_scenario_var_label(scenario, 'merit_rate_level_' ~ level)
        ) }}' as double)
        {%- endif %}
        {%- endfor %}
    end, levers.merit_rate) as merit_rate,
    levers.promotion_raise_rate
from {{ ref('stg_comp_levers') }} as levers
where levers.scenario_id = '{{ scenario["scenario_id"] }}'
{{ "union all" if not loop.last }}
{%- endfor %}
