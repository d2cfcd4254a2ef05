{#- Compensation levers by job level for the year: merit (var merit_rate_level_N over the seed) and promotion raise. -#}
{%- set year = var('simulation_year') | int %}
select
    {{ year }} as simulation_year,
    levers.job_level,
    coalesce(case levers.job_level
        when -1 then cast(null as double)
        {%- for level in range(1, 6) %}
        {%- set override = var('merit_rate_level_' ~ level, none) %}
        {%- if override is not none %}
        when {{ level }} then cast('{{ planalign_number_literal(override, 'merit_rate_level_' ~ level) }}' as double)
        {%- endif %}
        {%- endfor %}
    end, levers.merit_rate) as merit_rate,
    levers.promotion_raise_rate
from {{ ref('stg_comp_levers') }} as levers
