{#-
  Employee deferrals: deferral rate x plan compensation, capped at the 402(g) limit plus the catch-up limit
  for employees who reach catch_up_age by December 31. Plan compensation is the pay received while deferring
  at that rate, capped at the 401(a)(17) limit: the cap applies to deferrals as it does to the match.
-#}
with params as (
    select * from {{ ref('int_effective_parameters') }}
),

requested as (
    select
        snapshot.employee_id,
        snapshot.simulation_year,
        snapshot.age,
        snapshot.deferral_rate,
        snapshot.deferral_compensation,
        least(snapshot.deferral_compensation, params.compensation_limit) as plan_compensation,
        round(snapshot.deferral_rate * least(snapshot.deferral_compensation, params.compensation_limit), 2)
            as requested_contribution,
        params.elective_deferral_limit
            + case when snapshot.age >= params.catch_up_age then params.catch_up_limit else 0 end
            as contribution_limit
    from {{ ref('int_workforce_snapshot_optimized') }} as snapshot
    cross join params
    where snapshot.simulation_year = {{ var('simulation_year') | int }}
)

select
    employee_id,
    cast(simulation_year as integer) as simulation_year,
    age,
    deferral_rate,
    deferral_compensation,
    cast(plan_compensation as decimal(18, 2)) as plan_compensation,
    cast(requested_contribution as decimal(18, 2)) as requested_contribution,
    cast(contribution_limit as decimal(18, 2)) as contribution_limit,
    cast(least(requested_contribution, contribution_limit) as decimal(18, 2)) as employee_contribution,
    requested_contribution > contribution_limit as is_limited
from requested
