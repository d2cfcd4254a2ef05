{#-
  Key employees and the top-heavy minimum contribution (IRC 416; issue #23 item 3), one row per employee
  employed in the year.
  * Key employee (IRC 416(i)(1)(A)(i)): an officer paid more than key_employee_compensation_limit in the
    year. The model has no officer flag, so everyone paid above the limit is taken as an officer, and no more
    are treated as officers than 50 or, if fewer, the greater of 3 and 10% of the year's employees (rounded
    up; Treas. Reg. 1.416-1 T-14): the highest paid. Owners (416(i)(1)(A)(ii)-(iii)): a census employee
    owning more than 5% (stg_census_data.ownership_share), or more than 1% and paid more than $150,000 in the
    year (the statute's amount, not indexed), is a key employee too; hires own nothing; the attribution
    rules of 318 are not modelled.
  * Minimum (IRC 416(c)(2)): in a top-heavy year (int_top_heavy_previous_year), every non-key participant
    (entered the plan by December 31) employed on December 31 receives employer contributions of at least
    min(3%, the highest key employee's rate) of annual plan compensation (capped at 401(a)(17)). The key
    employees' rate counts their deferrals, match and core (416(c)(2)(B)(ii)); the non-key employee's match and
    core count toward the minimum (Treas. Reg. 1.416-1 M-18, M-20), deferrals do not. top_heavy_minimum is the
    shortfall, a non-elective contribution added to the core contribution in the marts.
-#}
with params as (
    select * from {{ ref('int_effective_parameters') }}
),

snapshot as (
    select * from {{ planalign_this_year('int_workforce_snapshot_optimized') }}
),

officer_caps as (
    select scenario_id, least(50, greatest(3, ceil(0.1 * count(*)))) as officer_cap
    from snapshot
    group by scenario_id
),

ranked as (
    select
        snapshot.scenario_id,
        snapshot.employee_id,
        row_number() over (
            partition by snapshot.scenario_id order by snapshot.prorated_compensation desc, snapshot.employee_id asc
        ) as pay_rank
    from snapshot
    inner join params on snapshot.scenario_id = params.scenario_id
    where snapshot.prorated_compensation > params.key_employee_compensation_limit
),

employees as (
    select
        snapshot.scenario_id,
        snapshot.employee_id,
        snapshot.employment_status,
        snapshot.eligibility_date <= params.year_end as is_participant,
        coalesce(ranked.pay_rank <= officer_caps.officer_cap, false)
            or coalesce(census.ownership_share, 0) > 0.05
            or (coalesce(census.ownership_share, 0) > 0.01 and snapshot.prorated_compensation > 150000)
            as is_key_employee,
        officer_caps.officer_cap,
        coalesce(previous.is_top_heavy, false) as is_top_heavy_year,
        contributions.annual_plan_compensation,
        contributions.employee_contribution,
        money.employer_match,
        money.employer_core_contribution
    from snapshot
    inner join params on snapshot.scenario_id = params.scenario_id
    inner join officer_caps on snapshot.scenario_id = officer_caps.scenario_id
    left join ranked on snapshot.scenario_id = ranked.scenario_id and snapshot.employee_id = ranked.employee_id
    left join {{ ref('int_top_heavy_previous_year') }} as previous on snapshot.scenario_id = previous.scenario_id
    left join {{ ref('stg_census_data') }} as census
        on snapshot.scenario_id = census.scenario_id and snapshot.employee_id = census.employee_id
    inner join {{ planalign_this_year('int_employee_contributions') }} as contributions
        on snapshot.scenario_id = contributions.scenario_id and snapshot.employee_id = contributions.employee_id
    inner join {{ planalign_this_year('int_employee_match_calculations') }} as money
        on snapshot.scenario_id = money.scenario_id and snapshot.employee_id = money.employee_id
),

key_rates as (
    select
        scenario_id,
        max(case when annual_plan_compensation > 0
            then (employee_contribution + employer_match + employer_core_contribution) / annual_plan_compensation
            else 0 end) as highest_key_rate
    from employees
    where is_key_employee
    group by scenario_id
)

select
    cast(employees.scenario_id as varchar) as scenario_id,
    cast(employees.employee_id as varchar) as employee_id,
    cast({{ var('simulation_year') | int }} as integer) as simulation_year,
    employees.is_key_employee,
    cast(employees.officer_cap as integer) as officer_cap,
    employees.is_top_heavy_year,
    cast(least(0.03, coalesce(key_rates.highest_key_rate, 0)) as double) as minimum_rate,
    cast(case
        when employees.is_top_heavy_year and not employees.is_key_employee and employees.is_participant
            and employees.employment_status = 'active'
            then greatest(0, round(least(0.03, coalesce(key_rates.highest_key_rate, 0))
                * employees.annual_plan_compensation, 2)
                - employees.employer_match - employees.employer_core_contribution)
        else 0
    end as decimal(18, 2)) as top_heavy_minimum
from employees
left join key_rates on employees.scenario_id = key_rates.scenario_id
