{#-
  The census bad-row rules, in exactly one place.

  This file must stay plain Jinja (no dbt context): planalign/census.py renders it with jinja2 to run the
  same rules as a pre-flight check on an in-memory DuckDB. The expression is evaluated over rows whose seven
  census columns are all text, so unparseable values become reasons instead of cast errors.
  A row gets the first reason that applies; null means the row is good. Every copy of a duplicated id is
  rejected, because nothing tells which copy is right.
-#}
{% macro census_reject_reason(effective_date) -%}
case
    when employee_id is null or trim(employee_id) = '' then 'missing_employee_id'
    when count(*) over (partition by trim(employee_id)) > 1 then 'duplicate_employee_id'
    when try_cast(birth_date as date) is null then 'invalid_birth_date'
    when try_cast(hire_date as date) is null then 'invalid_hire_date'
    when nullif(trim(termination_date), '') is not null and try_cast(termination_date as date) is null
        then 'invalid_termination_date'
    when try_cast(annual_compensation as double) is null then 'missing_compensation'
    when try_cast(annual_compensation as double) <= 0 then 'non_positive_compensation'
    when try_cast(job_level as integer) is null or try_cast(job_level as integer) not between 1 and 5
        then 'invalid_job_level'
    when nullif(trim(deferral_rate), '') is not null
        and coalesce(try_cast(deferral_rate as double) not between 0 and 1, true)
        then 'invalid_deferral_rate'
    when try_cast(hire_date as date) > date '{{ effective_date }}' then 'hire_after_effective_date'
    when try_cast(termination_date as date) < try_cast(hire_date as date) then 'termination_before_hire'
    when try_cast(birth_date as date) >= try_cast(hire_date as date) then 'birth_not_before_hire'
end
{%- endmacro %}

{#- The census columns, in order; both the dbt staging model and the pre-flight check read exactly these. -#}
{% macro census_columns() -%}
employee_id,birth_date,hire_date,termination_date,annual_compensation,job_level,deferral_rate
{%- endmacro %}
