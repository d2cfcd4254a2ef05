{#- The published end-of-year snapshot (contract enforced): one row per scenario, employee and simulation_year. -#}
select
    cast(snapshot.scenario_id as varchar) as scenario_id,
    cast(snapshot.employee_id as varchar) as employee_id,
    cast(snapshot.simulation_year as integer) as simulation_year,
    cast(snapshot.employment_status as varchar) as employment_status,
    cast(snapshot.hire_date as date) as hire_date,
    cast(snapshot.termination_date as date) as termination_date,
    cast(snapshot.age as integer) as age,
    cast(snapshot.tenure_years as integer) as tenure_years,
    cast(snapshot.job_level as integer) as job_level,
    cast(snapshot.annual_compensation as decimal(18, 2)) as annual_compensation,
    cast(snapshot.prorated_compensation as decimal(18, 2)) as prorated_compensation,
    cast(snapshot.is_enrolled as boolean) as is_enrolled,
    cast(snapshot.deferral_rate as decimal(8, 4)) as deferral_rate,
    cast(coalesce(contributions.employee_contribution, 0) as decimal(18, 2)) as employee_contribution,
    cast(coalesce(match.employer_match, 0) as decimal(18, 2)) as employer_match,
    cast(coalesce(match.employer_core_contribution, 0) as decimal(18, 2)) as employer_core_contribution
from {{ planalign_this_year('int_workforce_snapshot_optimized') }} as snapshot
left join {{ ref('int_employee_contributions') }} as contributions
    on snapshot.scenario_id = contributions.scenario_id
    and snapshot.employee_id = contributions.employee_id
    and snapshot.simulation_year = contributions.simulation_year
left join {{ ref('int_employee_match_calculations') }} as match
    on snapshot.scenario_id = match.scenario_id
    and snapshot.employee_id = match.employee_id
    and snapshot.simulation_year = match.simulation_year
