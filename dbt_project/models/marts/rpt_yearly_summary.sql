{#- One row per scenario and simulation year: headcount, events, participation and money (the product's summary
    table). Every total is per scenario; the rows come from params (one per scenario), so a scenario always has
    its row. -#}
{%- set year = var('simulation_year') | int %}
with params as (
    select * from {{ ref('int_effective_parameters') }}
),

snapshot as (
    select * from {{ planalign_this_year('fct_workforce_snapshot') }}
),

events as (
    select * from {{ planalign_this_year('fct_yearly_events') }}
),

event_counts as (
    select
        params.scenario_id,
        count(events.event_type) filter (where events.event_type = 'hire') as hires,
        count(events.event_type) filter (where events.event_type = 'termination') as terminations,
        count(events.event_type) filter (
            where events.event_type = 'termination' and events.termination_kind = 'retirement') as retirements,
        count(events.event_type) filter (where events.event_type = 'promotion') as promotions,
        count(events.event_type) filter (where events.event_type = 'raise') as raises,
        count(events.event_type) filter (where events.event_type = 'enrollment') as enrollments,
        count(events.event_type) filter (where events.event_type = 'enrollment_opt_out') as opt_outs,
        count(events.event_type) filter (where events.event_type = 'deferral_escalation') as deferral_escalations
    from params
    left join events on params.scenario_id = events.scenario_id
    group by params.scenario_id
),

{#- terminations of employees hired in the same year (the run summary's new_hire_terminations; the report's
    experienced terminations are terminations - new_hire_terminations) -#}
new_hire_terminations as (
    select params.scenario_id, count(leavers.employee_id) as new_hire_terminations
    from params
    left join (
        select terms.scenario_id, terms.employee_id
        from events as terms
        inner join events as hires
            on terms.scenario_id = hires.scenario_id and terms.employee_id = hires.employee_id
            and hires.event_type = 'hire'
        where terms.event_type = 'termination'
    ) as leavers on params.scenario_id = leavers.scenario_id
    group by params.scenario_id
),

snapshot_totals as (
    select
        params.scenario_id,
        count(snapshot.employee_id) filter (where snapshot.employment_status = 'active') as active_employees,
        count(snapshot.employee_id) filter (where snapshot.employment_status = 'active' and snapshot.is_enrolled)
            as enrolled_actives,
        sum(snapshot.employee_contribution) as employee_contributions,
        sum(snapshot.employer_match) as employer_match,
        sum(snapshot.employer_core_contribution) as employer_core_contributions,
        sum(snapshot.prorated_compensation) as total_compensation_paid,
        avg(snapshot.annual_compensation) filter (where snapshot.employment_status = 'active')
            as average_compensation_raw
    from params
    left join snapshot on params.scenario_id = snapshot.scenario_id
    group by params.scenario_id
),

{#- SECURE 2.0 section 603's Roth catch-up (int_employee_contributions) and the match true-up
    (int_employee_match_calculations, before 415(c)) -#}
plan_rule_totals as (
    select
        params.scenario_id,
        coalesce(sum(contributions.pretax_contribution), 0) as pretax_contributions,
        coalesce(sum(contributions.roth_catch_up_contribution), 0) as roth_catch_up_contributions,
        count(contributions.employee_id) filter (where contributions.roth_catch_up_contribution > 0)
            as roth_catch_up_employees,
        coalesce(sum(money.match_true_up), 0) as match_true_up
    from params
    left join {{ planalign_this_year('int_employee_contributions') }} as contributions
        on params.scenario_id = contributions.scenario_id
    left join {{ planalign_this_year('int_employee_match_calculations') }} as money
        on contributions.scenario_id = money.scenario_id and contributions.employee_id = money.employee_id
    group by params.scenario_id
),

{#- the year's nondiscrimination corrections (int_nondiscrimination_corrections): the snapshot's money is
    net of them; an ACP refund is vested match paid out to the HCE, still the employer's cost; its unvested
    part is forfeited (acp_forfeited, issue #23 item 7) and costs nothing -#}
correction_totals as (
    select
        params.scenario_id,
        coalesce(sum(corrections.adp_refund), 0) as adp_refunds,
        coalesce(sum(corrections.catch_up_recharacterized), 0) as catch_up_recharacterized,
        coalesce(sum(corrections.match_forfeited), 0) as match_forfeited,
        coalesce(sum(corrections.acp_refund), 0) as acp_refunds,
        coalesce(sum(corrections.acp_forfeited), 0) as acp_forfeited,
        coalesce(max(top_heavy.top_heavy_minimum), 0) as top_heavy_minimum
    from params
    left join {{ planalign_this_year('int_nondiscrimination_corrections') }} as corrections
        on params.scenario_id = corrections.scenario_id
    left join (
        select scenario_id, sum(top_heavy_minimum) as top_heavy_minimum
        from {{ planalign_this_year('int_top_heavy_minimum') }}
        group by scenario_id
    ) as top_heavy on params.scenario_id = top_heavy.scenario_id
    group by params.scenario_id
),

{#- issue #23 item 7: with forfeiture after five one-year breaks (IRC 411(a)(6)(C)), the unvested part of the
    accounts of the leavers of Y - 5 is forfeited on December 31 of Y (their fifth break); nothing before
    the horizon's sixth year -#}
deferred_forfeitures as (
    select accounts.scenario_id, sum(accounts.balance - accounts.vested_balance) as forfeitures
    from {{ ref('int_employer_contribution_accounts') }} as accounts
    inner join params on accounts.scenario_id = params.scenario_id and params.forfeiture_after_five_breaks
    where accounts.simulation_year = {{ year - 5 }} and accounts.employment_status = 'terminated'
        and {{ planalign_in_build('accounts') }}
    group by accounts.scenario_id
),

forfeiture_totals as (
    select
        params.scenario_id,
        coalesce(sum(accounts.forfeiture), 0) + coalesce(max(deferred_forfeitures.forfeitures), 0) as forfeitures
    from params
    left join {{ planalign_this_year('int_employer_contribution_accounts') }} as accounts
        on params.scenario_id = accounts.scenario_id
    left join deferred_forfeitures on params.scenario_id = deferred_forfeitures.scenario_id
    group by params.scenario_id
),

employer_totals as (
    select
        snapshot_totals.scenario_id,
        coalesce(snapshot_totals.employer_match, 0) + coalesce(snapshot_totals.employer_core_contributions, 0)
            + correction_totals.acp_refunds as employer_contributions,
        forfeiture_totals.forfeitures,
        case when params.forfeitures_offset_employer_cost
            then least(forfeiture_totals.forfeitures,
                coalesce(snapshot_totals.employer_match, 0) + coalesce(snapshot_totals.employer_core_contributions, 0))
            else 0
        end as forfeitures_used
    from snapshot_totals
    inner join forfeiture_totals on snapshot_totals.scenario_id = forfeiture_totals.scenario_id
    inner join params on snapshot_totals.scenario_id = params.scenario_id
    inner join correction_totals on snapshot_totals.scenario_id = correction_totals.scenario_id
)

select
    snapshot_totals.scenario_id,
    cast({{ year }} as integer) as simulation_year,
    cast(snapshot_totals.active_employees as integer) as active_employees,
    cast(event_counts.hires as integer) as hires,
    cast(event_counts.terminations as integer) as terminations,
    cast(new_hire_terminations.new_hire_terminations as integer) as new_hire_terminations,
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
    cast(round(snapshot_totals.average_compensation_raw, 2) as decimal(18, 2)) as average_compensation,
    cast(plan_rule_totals.pretax_contributions as decimal(18, 2)) as pretax_contributions,
    cast(plan_rule_totals.roth_catch_up_contributions as decimal(18, 2)) as roth_catch_up_contributions,
    cast(plan_rule_totals.roth_catch_up_employees as integer) as roth_catch_up_employees,
    cast(plan_rule_totals.match_true_up as decimal(18, 2)) as match_true_up,
    cast(correction_totals.adp_refunds as decimal(18, 2)) as adp_refunds,
    cast(correction_totals.catch_up_recharacterized as decimal(18, 2)) as catch_up_recharacterized,
    cast(correction_totals.match_forfeited as decimal(18, 2)) as match_forfeited,
    cast(correction_totals.acp_refunds as decimal(18, 2)) as acp_refunds,
    {#- issue #23: the top-heavy minimum contribution, included in employer_core_contributions -#}
    cast(correction_totals.top_heavy_minimum as decimal(18, 2)) as top_heavy_minimum,
    {#- issue #23 item 7: the unvested part of the ACP correction, forfeited (not a cost; acp_refunds is the
        vested part paid out) -#}
    cast(correction_totals.acp_forfeited as decimal(18, 2)) as acp_forfeited
from snapshot_totals
inner join event_counts on snapshot_totals.scenario_id = event_counts.scenario_id
inner join new_hire_terminations on snapshot_totals.scenario_id = new_hire_terminations.scenario_id
inner join employer_totals on snapshot_totals.scenario_id = employer_totals.scenario_id
inner join plan_rule_totals on snapshot_totals.scenario_id = plan_rule_totals.scenario_id
inner join correction_totals on snapshot_totals.scenario_id = correction_totals.scenario_id
