{#-
  Employee deferrals: deferral rate x plan compensation, capped at the 402(g) limit plus the catch-up limit
  for employees who reach catch_up_age by December 31 (SECURE 2.0: the higher super_catch_up_limit for those
  aged 60 to 63 on December 31, from 2025). Plan compensation is the pay received while deferring at that
  rate, capped at the 401(a)(17) limit: the cap applies to deferrals as it does to the match.
  annual_plan_compensation (pay received in the year, capped the same way) is the base of the core
  contribution and of the 415(c) limit. The part of the deferral above 402(g) is catch-up (it does not count
  toward 415(c)).
-#}
with params as (
    select * from {{ ref('int_effective_parameters') }}
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
        end as applicable_catch_up_limit
    from {{ planalign_this_year('int_workforce_snapshot_optimized') }} as snapshot
    inner join params on snapshot.scenario_id = params.scenario_id
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
    cast(least(requested_contribution, elective_deferral_limit + applicable_catch_up_limit) as decimal(18, 2))
        as employee_contribution,
    cast(greatest(0, least(requested_contribution, elective_deferral_limit + applicable_catch_up_limit)
        - elective_deferral_limit) as decimal(18, 2)) as catch_up_contribution,
    requested_contribution > elective_deferral_limit + applicable_catch_up_limit as is_limited
from requested
