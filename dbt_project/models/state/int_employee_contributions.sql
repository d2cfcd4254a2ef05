{#-
  Employee deferrals: deferral rate x plan compensation, capped at the 402(g) limit plus the catch-up limit
  for employees who reach catch_up_age by December 31 (SECURE 2.0: the higher super_catch_up_limit for those
  aged 60 to 63 on December 31, from 2025). Plan compensation is the pay received while deferring at that
  rate, capped at the 401(a)(17) limit: the cap applies to deferrals as it does to the match.
  annual_plan_compensation (pay received in the year, capped the same way) is the base of the core
  contribution and of the 415(c) limit. The part of the deferral above 402(g) is catch-up (it does not count
  toward 415(c)).

  SECURE 2.0 section 603 (IRC 414(v)(7)): from roth_catch_up_start_year (2026), the catch-up of an employee
  whose wages from the employer in the previous calendar year exceeded roth_catch_up_wage_threshold
  (config_irs_limits: $145,000, $150,000 for 2026 on 2025 wages, IRS Notice 2025-67; 0 = not in force)
  must be designated Roth.
  The prior-year wages are approximated by the simulation's pay received in Y - 1 (int_prior_year_compensation,
  also the HCE look-back:
  last year's prorated pay; in the first simulated year the census's prior_year_compensation, else its pay
  rate; 0 for the year's hires, who
  had no wages from the employer); FICA wages (Form W-2 box 3) differ from it by pre-tax benefit deductions
  and the Social Security wage base, which is above the threshold. Regular deferrals are pre-tax (no Roth
  elections are modelled), so roth_contribution is the Roth catch-up and pretax_contribution the rest.
-#}
{%- set year = var('simulation_year') | int %}
with params as (
    select * from {{ ref('int_effective_parameters') }}
),

prior_year_pay as (
    select scenario_id, employee_id, prior_year_compensation from {{ ref('int_prior_year_compensation') }}
),

requested as (
    select
        snapshot.scenario_id,
        snapshot.employee_id,
        snapshot.simulation_year,
        snapshot.age,
        snapshot.deferral_rate,
        snapshot.deferral_compensation,
        least(snapshot.deferral_compensation, params.compensation_limit) as plan_compensation,
        least(snapshot.prorated_compensation, params.compensation_limit) as annual_plan_compensation,
        round(snapshot.deferral_rate * least(snapshot.deferral_compensation, params.compensation_limit), 2)
            as requested_contribution,
        params.elective_deferral_limit,
        case
            when snapshot.age < params.catch_up_age then 0
            when snapshot.age between 60 and 63 then greatest(params.super_catch_up_limit, params.catch_up_limit)
            else params.catch_up_limit
        end as applicable_catch_up_limit,
        coalesce(prior_year_pay.prior_year_compensation, 0) as prior_year_compensation,
        params.roth_catch_up_wage_threshold,
        {{ year }} >= params.roth_catch_up_start_year
            and params.roth_catch_up_wage_threshold > 0
            and coalesce(prior_year_pay.prior_year_compensation, 0) > params.roth_catch_up_wage_threshold
            as roth_catch_up_required
    from {{ planalign_this_year('int_workforce_snapshot_optimized') }} as snapshot
    inner join params on snapshot.scenario_id = params.scenario_id
    left join prior_year_pay
        on snapshot.scenario_id = prior_year_pay.scenario_id and snapshot.employee_id = prior_year_pay.employee_id
),

limited as (
    select
        *,
        least(requested_contribution, elective_deferral_limit + applicable_catch_up_limit) as contribution,
        greatest(0, least(requested_contribution, elective_deferral_limit + applicable_catch_up_limit)
            - elective_deferral_limit) as catch_up
    from requested
)

select
    scenario_id,
    employee_id,
    cast(simulation_year as integer) as simulation_year,
    age,
    deferral_rate,
    deferral_compensation,
    cast(plan_compensation as decimal(18, 2)) as plan_compensation,
    cast(annual_plan_compensation as decimal(18, 2)) as annual_plan_compensation,
    cast(requested_contribution as decimal(18, 2)) as requested_contribution,
    cast(elective_deferral_limit + applicable_catch_up_limit as decimal(18, 2)) as contribution_limit,
    cast(contribution as decimal(18, 2)) as employee_contribution,
    cast(catch_up as decimal(18, 2)) as catch_up_contribution,
    requested_contribution > elective_deferral_limit + applicable_catch_up_limit as is_limited,
    cast(prior_year_compensation as decimal(18, 2)) as prior_year_compensation,
    cast(roth_catch_up_wage_threshold as decimal(18, 2)) as roth_catch_up_wage_threshold,
    roth_catch_up_required,
    cast(contribution - case when roth_catch_up_required then catch_up else 0 end as decimal(18, 2))
        as pretax_contribution,
    cast(case when roth_catch_up_required then catch_up else 0 end as decimal(18, 2)) as roth_contribution,
    cast(case when roth_catch_up_required then catch_up else 0 end as decimal(18, 2)) as roth_catch_up_contribution
from limited
