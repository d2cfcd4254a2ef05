{{ config(materialized='table', meta={'planalign': {'stage': 'initialization', 'scope': 'year', 'execution': 'sequential'}}) }}
{% if var('simulation_year') | int == var('start_year') | int %}
select employee_id, level, salary, hire_date from {{ ref('stg_people') }}
{% else %}
select employee_id, job_level as level, annual_compensation as salary, hire_date
from {{ source('planalign_state', 'fct_workforce_snapshot') }}
where simulation_year = {{ var('simulation_year') | int - 1 }} and employment_status = 'active'
{% endif %}
