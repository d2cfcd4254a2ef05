{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='simulation_year',
          meta={'planalign': {'stage': 'event_generation', 'scope': 'year', 'execution': 'sequential'}}) }}
with draws as (
    select p.*, r.raise_rate, r.term_threshold,
           (hash({{ var('random_seed') }}, p.employee_id, {{ var('simulation_year') }}) % 1000) / 1000.0 as u
    from {{ ref('int_prev') }} p cross join {{ ref('int_params') }} r
)
select md5(employee_id || '-' || {{ var('simulation_year') }} || '-' || case when u < term_threshold then 'termination' else 'raise' end) as event_id,
       employee_id, {{ var('simulation_year') }} as simulation_year,
       case when u < term_threshold then 'termination' else 'raise' end as event_type,
       salary as compensation_before,
       case when u < term_threshold then salary else round(salary * (1 + raise_rate), 2) end as compensation_after
from draws
