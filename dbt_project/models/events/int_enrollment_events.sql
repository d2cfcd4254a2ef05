{#-
  Enrollment decisions of the year. Nobody enrolls before their plan entry date (macro
  planalign_eligibility_date: the hire date unless eligibility_* set a waiting period, an age or entry dates).
  * New hires, auto-enrollment on: enrolled at the default rate auto_enrollment_window_days after entry unless
    their draw falls under the opt-out rate, in which case they opt out that day (event enrollment_opt_out,
    deferral stays 0). A decision day after December 31 carries into a later year: the decision happens on
    entry date + window then (the simulation's earlier hires still pending, below). Nothing happens if they
    leave before that day.
  * New hires, auto-enrollment off, and start-of-year non-participants who never opted out, are not pending
    auto-enrollment, stay the whole year and have entered the plan by December 31: enroll with probability
    voluntary_enrollment_rate on a day drawn in their eligible period (from the later of January 1 and entry), at a voluntary rate drawn from a fixed distribution (3%..15%).
  With deferral_response_enabled (the default; docs/methodology.md, macros/deferral_response.sql), the plan
  shapes these decisions:
  * a voluntary rate is deferral_match_threshold_share at the match-maximizing rate of the tiers in force,
    deferral_below_match_share on whole percents below it, the rest on round rates above it (draw
    deferral_election);
  * an auto-enrolled participant who stays in elects their own rate that way with probability
    auto_enrollment_default_departure_rate (draw default_departure), else keeps the default;
  * voluntary_enrollment_rate is scaled by 1 + voluntary_enrollment_match_sensitivity x (match per dollar at
    the match-maximizing rate - voluntary_enrollment_match_reference), never below 0;
  * the opt-out rate moves by auto_enrollment_opt_out_default_slope x (default rate - 6%), within [0, 1].
  The existing draws (enrollment, enrollment_date, enrollment_rate) are unchanged; off, the model is today's.
  EACA (auto_enrollment_eaca, or auto_enrollment_secure_2_0_mandatory: IRC 414A(b)(1) makes the arrangement an
  EACA; IRC 414(w), Treas. Reg. 1.414(w)-1): an auto-enrolled participant who does not opt out withdraws with
  probability auto_enrollment_permissive_withdrawal_share (new draw permissive_withdrawal). The withdrawal
  falls within 90 days of the first deferral; the deferrals made until then are returned (414(w)(2)(B)) and
  the match on them forfeited (Treas. Reg. 1.414(w)-1(c)), so in the plan's money it is an opt-out on the
  auto-enrollment day: event enrollment_opt_out with enrollment_source permissive_withdrawal, deferral 0.
  The refund itself (at most 90 days of deferrals) is not reported.
-#}
{%- set election = planalign_voluntary_deferral_rate('candidates.u_election', 'behaviour.match_maximizing_rate',
    'params.deferral_match_threshold_share', 'params.deferral_below_match_share') %}
with params as (
    select * from {{ ref('int_effective_parameters') }}
),

terminations as (
    select scenario_id, employee_id, effective_date as termination_date from {{ ref('int_termination_events') }}
    union all
    select scenario_id, employee_id, effective_date from {{ ref('int_new_hire_termination_events') }}
),

new_hires as (
    select
        hires.scenario_id,
        hires.employee_id,
        hires.simulation_year,
        {{ planalign_eligibility_date('hires.birth_date', 'hires.hire_date') }} as eligible_from,
        terminations.termination_date,
        true as is_new_hire
    from {{ ref('int_hiring_events') }} as hires
    inner join params on hires.scenario_id = params.scenario_id
    left join terminations
        on hires.scenario_id = terminations.scenario_id and hires.employee_id = terminations.employee_id
),

-- earlier simulated years' hires whose auto-enrollment decision (entry date + window) is this year or later
-- (none in the first simulated year: the census's auto-enrollment history is unknown)
pending_auto as (
    select
        actives.scenario_id,
        actives.employee_id,
        actives.simulation_year,
        {{ planalign_eligibility_date('actives.birth_date', 'actives.hire_date') }} as eligible_from,
        terminations.termination_date,
        true as is_new_hire
    from {{ ref('int_active_employees_prev_year_snapshot') }} as actives
    inner join params on actives.scenario_id = params.scenario_id
    left join terminations
        on actives.scenario_id = terminations.scenario_id and actives.employee_id = terminations.employee_id
    where {{ 'true' if (var('simulation_year') | int) > (var('start_year') | int) else 'false' }}
        and params.auto_enrollment_enabled
        and not actives.is_enrolled
        and not actives.ever_opted_out
        and extract(year from actives.hire_date) >= {{ var('start_year') | int }}
        and {{ planalign_add_days(planalign_eligibility_date('actives.birth_date', 'actives.hire_date'),
            'params.auto_enrollment_window_days') }} >= params.year_start
),

non_participants as (
    select
        actives.scenario_id,
        actives.employee_id,
        actives.simulation_year,
        greatest(params.year_start, {{ planalign_eligibility_date('actives.birth_date', 'actives.hire_date') }})
            as eligible_from,
        cast(null as date) as termination_date,
        false as is_new_hire
    from {{ ref('int_active_employees_prev_year_snapshot') }} as actives
    inner join params on actives.scenario_id = params.scenario_id
    where not actives.is_enrolled
        and not actives.ever_opted_out
        and (actives.scenario_id, actives.employee_id) not in (select scenario_id, employee_id from terminations)
        and (actives.scenario_id, actives.employee_id) not in (select scenario_id, employee_id from pending_auto)
),

anchors as (
    {{ planalign_match_anchor('params') }}
),

behaviour as (
    select
        params.scenario_id,
        anchors.match_maximizing_rate,
        case when params.deferral_response_enabled
            then params.voluntary_enrollment_rate * greatest(0.0, 1.0 + params.voluntary_enrollment_match_sensitivity
                * (anchors.match_per_dollar - params.voluntary_enrollment_match_reference))
            else params.voluntary_enrollment_rate
        end as voluntary_enrollment_rate,
        case when params.deferral_response_enabled
            then greatest(0.0, least(1.0, params.auto_enrollment_opt_out_rate
                + params.auto_enrollment_opt_out_default_slope * (params.auto_enrollment_default_deferral_rate - 0.06)))
            else params.auto_enrollment_opt_out_rate
        end as auto_enrollment_opt_out_rate
    from params
    inner join anchors on params.scenario_id = anchors.scenario_id
),

candidates as (
    select
        candidates.*,
        {{ planalign_uniform('deferral_election', 'candidates.employee_id', 'scenarios.random_seed') }} as u_election,
        {{ planalign_uniform('default_departure', 'candidates.employee_id', 'scenarios.random_seed') }} as u_departure,
        {{ planalign_uniform('enrollment', 'candidates.employee_id', 'scenarios.random_seed') }} as u_enroll,
        {{ planalign_uniform('enrollment_date', 'candidates.employee_id', 'scenarios.random_seed') }} as u_date,
        {{ planalign_uniform('enrollment_rate', 'candidates.employee_id', 'scenarios.random_seed') }} as u_rate,
        {{ planalign_uniform('permissive_withdrawal', 'candidates.employee_id', 'scenarios.random_seed') }}
            as u_withdrawal,
        params.auto_enrollment_enabled and candidates.is_new_hire as is_auto,
        params.auto_enrollment_eaca as is_eaca
    from (
        select * from new_hires
        union all
        select * from pending_auto
        union all
        select * from non_participants
    ) as candidates
    inner join params on candidates.scenario_id = params.scenario_id
    inner join {{ ref('dim_scenarios') }} as scenarios on candidates.scenario_id = scenarios.scenario_id
),

decided as (
    select
        candidates.scenario_id,
        candidates.employee_id,
        candidates.simulation_year,
        candidates.termination_date,
        candidates.eligible_from,
        case
            -- a window past December 31 of the hire year is carried (pending_auto next year); one past the
            -- next December 31 (a December hire with a 366-day window) ends then
            when candidates.is_auto and extract(year from candidates.eligible_from) < candidates.simulation_year
                then least(
                    {{ planalign_add_days('candidates.eligible_from', 'params.auto_enrollment_window_days') }},
                    params.year_end)
            when candidates.is_auto
                then {{ planalign_add_days('candidates.eligible_from', 'params.auto_enrollment_window_days') }}
            else {{ planalign_add_days('candidates.eligible_from',
                'floor(candidates.u_date * (' ~ planalign_days_between('candidates.eligible_from', 'params.year_end')
                ~ ' + 1))') }}
        end as effective_date,
        case
            when candidates.is_auto and candidates.u_enroll < behaviour.auto_enrollment_opt_out_rate
                then 'enrollment_opt_out'
            when candidates.is_auto and candidates.is_eaca
                and candidates.u_withdrawal < params.auto_enrollment_permissive_withdrawal_share
                then 'enrollment_opt_out'
            when candidates.is_auto then 'enrollment'
            when candidates.u_enroll < behaviour.voluntary_enrollment_rate then 'enrollment'
        end as event_type,
        case
            when candidates.is_auto and candidates.u_enroll < behaviour.auto_enrollment_opt_out_rate then 0.0
            when candidates.is_auto and candidates.is_eaca
                and candidates.u_withdrawal < params.auto_enrollment_permissive_withdrawal_share
                then 0.0
            when candidates.is_auto and params.deferral_response_enabled
                and candidates.u_departure < params.auto_enrollment_default_departure_rate
                then {{ election }}
            when candidates.is_auto then params.auto_enrollment_default_deferral_rate
            when params.deferral_response_enabled then {{ election }}
            else case cast(floor(candidates.u_rate * 8) as integer)
                when 0 then 0.03 when 1 then 0.04 when 2 then 0.05 when 3 then 0.06
                when 4 then 0.06 when 5 then 0.08 when 6 then 0.10 else 0.15
            end
        end as deferral_rate_after,
        case
            when candidates.is_auto and candidates.u_enroll >= behaviour.auto_enrollment_opt_out_rate
                and candidates.is_eaca
                and candidates.u_withdrawal < params.auto_enrollment_permissive_withdrawal_share
                then 'permissive_withdrawal'
            when candidates.is_auto then 'auto'
            else 'voluntary'
        end as enrollment_source
    from candidates
    inner join params on candidates.scenario_id = params.scenario_id
    inner join behaviour on candidates.scenario_id = behaviour.scenario_id
)

select
    decided.scenario_id,
    decided.employee_id,
    decided.simulation_year,
    decided.event_type,
    decided.effective_date,
    decided.enrollment_source,
    cast(0 as decimal(8, 4)) as deferral_rate_before,
    cast(decided.deferral_rate_after as decimal(8, 4)) as deferral_rate_after
from decided
inner join params on decided.scenario_id = params.scenario_id
where decided.event_type is not null
    and decided.effective_date <= params.year_end
    and (decided.termination_date is null or decided.effective_date <= decided.termination_date)
    and decided.effective_date >= decided.eligible_from
