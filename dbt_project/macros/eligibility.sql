{#-
  The day an employee enters the plan (README: "Eligibility"), from int_effective_parameters' columns (the
  relation alias `params`):
    requirements met = max(hire date + eligibility_service_months months + eligibility_service_days days,
                           birth date + eligibility_min_age years)
    entry date       = requirements met                              when eligibility_entry_frequency_months = 0
                       the first 1st of a month m with (m - 1) divisible by the frequency, on or after it,
                                                                     otherwise (1: monthly, 3: quarterly ...)
  With the defaults (0, 0, 0, 0) it is the hire date: everyone is eligible on hire.
-#}
{% macro planalign_eligibility_date(birth_expr, hire_expr, params='params') -%}
    {%- set met = 'greatest(' ~ planalign_add_days(planalign_add_months(hire_expr, params ~ '.eligibility_service_months'),
        params ~ '.eligibility_service_days') ~ ', ' ~ planalign_add_years(birth_expr, params ~ '.eligibility_min_age') ~ ')' -%}
    {%- set month_index = '(extract(year from ' ~ met ~ ') * 12 + extract(month from ' ~ met ~ ') - 1'
        ~ ' + case when extract(day from ' ~ met ~ ') > 1 then 1 else 0 end)' -%}
    {%- set entry_index = 'cast(ceil(' ~ month_index ~ ' / cast(' ~ params ~ '.eligibility_entry_frequency_months as double)) as integer) * '
        ~ params ~ '.eligibility_entry_frequency_months' -%}
    case
        when {{ params }}.eligibility_entry_frequency_months <= 0 then {{ met }}
        else {{ planalign_make_date('floor((' ~ entry_index ~ ') / 12)', '(' ~ entry_index ~ ') % 12 + 1', 1) }}
    end
{%- endmacro %}
