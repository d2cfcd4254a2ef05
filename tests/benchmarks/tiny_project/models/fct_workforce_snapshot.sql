{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='simulation_year', on_schema_change='fail',
          meta={'planalign': {'stage': 'state_accumulation', 'scope': 'year', 'execution': 'sequential'}}) }}
select p.employee_id, {{ var('simulation_year') }}::integer as simulation_year,
       case when e.event_type = 'termination' then 'terminated' else 'active' end as employment_status,
       p.hire_date, p.level as job_level, e.compensation_after::double as annual_compensation
from {{ ref('int_prev') }} p join {{ ref('fct_yearly_events') }} e
  on e.employee_id = p.employee_id and e.simulation_year = {{ var('simulation_year') }}
