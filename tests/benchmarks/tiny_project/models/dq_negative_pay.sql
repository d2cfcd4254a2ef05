{{ config(materialized='table', meta={'planalign': {'stage': 'validation', 'scope': 'year', 'execution': 'parallel_safe'}}) }}
select * from {{ ref('fct_workforce_snapshot') }}
where simulation_year = {{ var('simulation_year') }} and annual_compensation <= 0
