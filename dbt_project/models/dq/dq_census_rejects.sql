{#- Every census row the simulation does not use, with the reason (rules: macros/census_rules.sql). -#}
select
    scenario_id,
    employee_id,
    birth_date,
    hire_date,
    termination_date,
    annual_compensation,
    job_level,
    deferral_rate,
    reject_reason
from {{ ref('stg_census_rows') }}
where reject_reason is not null
