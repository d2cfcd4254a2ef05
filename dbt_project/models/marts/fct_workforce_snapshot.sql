{#- The published end-of-year snapshot (contract enforced): one row per scenario, employee and simulation_year.
    The money is what stays in the plan after the year's nondiscrimination corrections
    (int_nondiscrimination_corrections): deferrals less the ADP refund, match less the match forfeited on
    refunded deferrals and the ACP refund; the core contribution includes the top-heavy minimum
    (int_top_heavy_minimum). -#}
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
    cast(coalesce(contributions.employee_contribution, 0) - coalesce(corrections.adp_refund, 0) as decimal(18, 2))
        as employee_contribution,
    cast(coalesce(match.employer_match, 0) - coalesce(corrections.match_forfeited, 0)
        - coalesce(corrections.acp_refund, 0) - coalesce(corrections.acp_forfeited, 0) as decimal(18, 2))
        as employer_match,
    cast(coalesce(match.employer_core_contribution, 0) + coalesce(top_heavy.top_heavy_minimum, 0) as decimal(18, 2))
        as employer_core_contribution
from {{ planalign_this_year('int_workforce_snapshot_optimized') }} as snapshot
left join {{ ref('int_employee_contributions') }} as contributions
    on snapshot.scenario_id = contributions.scenario_id
    and snapshot.employee_id = contributions.employee_id
    and snapshot.simulation_year = contributions.simulation_year
left join {{ ref('int_employee_match_calculations') }} as match
    on snapshot.scenario_id = match.scenario_id
    and snapshot.employee_id = match.employee_id
    and snapshot.simulation_year = match.simulation_year
left join {{ planalign_this_year('int_nondiscrimination_corrections') }} as corrections
    on snapshot.scenario_id = corrections.scenario_id
    and snapshot.employee_id = corrections.employee_id
left join {{ planalign_this_year('int_top_heavy_minimum') }} as top_heavy
    on snapshot.scenario_id = top_heavy.scenario_id
    and snapshot.employee_id = top_heavy.employee_id
