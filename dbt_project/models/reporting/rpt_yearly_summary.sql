{#- One row per simulation year: headcount, events, participation and money (the product's summary table). -#}
{%- set year = var('simulation_year') | int %}
with snapshot as (
    select * from {{ ref('fct_workforce_snapshot') }} where simulation_year = {{ year }}
),

events as (
    select * from {{ ref('fct_yearly_events') }} where simulation_year = {{ year }}
),

event_counts as (
    select
        count(*) filter (where event_type = 'hire') as hires,
        count(*) filter (where event_type = 'termination') as terminations,
        count(*) filter (where event_type = 'termination' and termination_kind = 'retirement') as retirements,
        count(*) filter (where event_type = 'promotion') as promotions,
        count(*) filter (where event_type = 'raise') as raises,
        count(*) filter (where event_type = 'enrollment') as enrollments,
        count(*) filter (where event_type = 'enrollment_opt_out') as opt_outs,
        count(*) filter (where event_type = 'deferral_escalation') as deferral_escalations
    from events
),

snapshot_totals as (
    select
        count(*) filter (where employment_status = 'active') as active_employees,
        count(*) filter (where employment_status = 'active' and is_enrolled) as enrolled_actives,
        sum(employee_contribution) as employee_contributions,
        sum(employer_match) as employer_match,
        sum(employer_core_contribution) as employer_core_contributions,
        sum(prorated_compensation) as total_compensation_paid,
        avg(annual_compensation) filter (where employment_status = 'active') as average_compensation_raw
    from snapshot
),

forfeiture_totals as (
    select coalesce(sum(forfeiture), 0) as forfeitures
    from {{ ref('int_employer_contribution_accounts') }}
    where simulation_year = {{ year }}
),

employer_totals as (
    select
        coalesce(snapshot_totals.employer_match, 0) + coalesce(snapshot_totals.employer_core_contributions, 0)
            as employer_contributions,
        forfeiture_totals.forfeitures,
        case when params.forfeitures_offset_employer_cost
            then least(forfeiture_totals.forfeitures,
                coalesce(snapshot_totals.employer_match, 0) + coalesce(snapshot_totals.employer_core_contributions, 0))
            else 0
        end as forfeitures_used
    from snapshot_totals
    cross join forfeiture_totals
    cross join {{ ref('int_effective_parameters') }} as params
)

select
    cast({{ year }} as integer) as simulation_year,
    cast(snapshot_totals.active_employees as integer) as active_employees,
    cast(event_counts.hires as integer) as hires,
    cast(event_counts.terminations as integer) as terminations,
    cast(event_counts.retirements as integer) as retirements,
    cast(event_counts.promotions as integer) as promotions,
    cast(event_counts.raises as integer) as raises,
    cast(event_counts.enrollments as integer) as enrollments,
    cast(event_counts.opt_outs as integer) as opt_outs,
    cast(event_counts.deferral_escalations as integer) as deferral_escalations,
    cast(snapshot_totals.enrolled_actives as integer) as enrolled_actives,
    cast(case when snapshot_totals.active_employees > 0
        then snapshot_totals.enrolled_actives / snapshot_totals.active_employees end as double) as participation_rate,
    cast(coalesce(snapshot_totals.employee_contributions, 0) as decimal(18, 2)) as employee_contributions,
    cast(coalesce(snapshot_totals.employer_match, 0) as decimal(18, 2)) as employer_match,
    cast(coalesce(snapshot_totals.employer_core_contributions, 0) as decimal(18, 2)) as employer_core_contributions,
    cast(employer_totals.forfeitures as decimal(18, 2)) as forfeitures,
    cast(employer_totals.forfeitures_used as decimal(18, 2)) as forfeitures_used,
    cast(employer_totals.employer_contributions - employer_totals.forfeitures_used as decimal(18, 2))
        as employer_cost,
    cast(coalesce(snapshot_totals.total_compensation_paid, 0) as decimal(18, 2)) as total_compensation_paid,
    cast(round(snapshot_totals.average_compensation_raw, 2) as decimal(18, 2)) as average_compensation
from snapshot_totals
cross join event_counts
cross join employer_totals
