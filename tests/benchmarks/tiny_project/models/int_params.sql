{{ config(materialized='view', meta={'planalign': {'stage': 'foundation', 'scope': 'year', 'execution': 'parallel_safe'}}) }}
select {{ var('simulation_year') }} as simulation_year,
       max(case when name = 'raise_rate' then value end) as raise_rate,
       max(case when name = 'term_threshold' then value end) as term_threshold
from {{ ref('params') }}
