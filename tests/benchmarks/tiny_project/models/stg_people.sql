{{ config(materialized='table', meta={'planalign': {'stage': 'initialization', 'scope': 'simulation', 'execution': 'parallel_safe'}}) }}
select employee_id, level, salary, hire_date from {{ ref('people') }}
