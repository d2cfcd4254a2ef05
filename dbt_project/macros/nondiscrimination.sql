{#-
  The correction of a failed ADP or ACP test (Treas. Reg. 1.401(k)-2(b)(2), 1.401(m)-2(b)(2)), as CTEs named
  <prefix>_...; the caller's CTE `tested` has (scenario_id, test, employee_id, is_hce, amount,
  test_compensation, ratio) for the eligible employees. The total excess is found by levelling the HCEs'
  ratios down from the highest to the level L at which the HCE average equals the test's limit
  max(1.25 x NHCE, min(NHCE + 2 points, 2 x NHCE)); it is assigned by levelling the HCEs' dollar amounts
  down from the highest to the level D whose excess over it is that total. The last CTE,
  <prefix>_refunds, has (scenario_id, test, employee_id, refund) for the HCEs of a failed test.
  A macro because the ACP test runs on the match the ADP correction leaves (Treas. Reg.
  1.401(m)-2(a)(5)(ii): match forfeited because the deferrals it relates to were excess contributions is
  not taken into account), so the two levellings run one after the other (int_nondiscrimination_corrections).
-#}
{% macro planalign_levelled_corrections(tested, prefix) -%}
{{ prefix }}_averages as (
    select
        scenario_id,
        test,
        cast(sum(ratio) filter (where not is_hce) as double)
            / nullif(count(*) filter (where not is_hce), 0) as nhce_average,
        cast(sum(ratio) filter (where is_hce) as double) / nullif(count(*) filter (where is_hce), 0)
            as hce_average,
        count(*) filter (where is_hce) as hces
    from {{ tested }}
    group by scenario_id, test
),

{{ prefix }}_limits as (
    select
        *,
        greatest(1.25 * nhce_average, least(nhce_average + 0.02, 2 * nhce_average)) as hce_limit,
        coalesce(hce_average <= greatest(1.25 * nhce_average, least(nhce_average + 0.02, 2 * nhce_average)), true)
            as passed
    from {{ prefix }}_averages
),

{{ prefix }}_hces as (
    select tested.*, limits.hce_limit, limits.hces
    from {{ tested }} as tested
    inner join {{ prefix }}_limits as limits on tested.scenario_id = limits.scenario_id and tested.test = limits.test
    where tested.is_hce and not limits.passed
),

{#- step 1: the ratio level L at which the HCE average equals the limit -#}
{{ prefix }}_ratio_breakpoints as (
    select scenario_id, test, ratio as level from {{ prefix }}_hces
    union
    select distinct scenario_id, test, cast(0 as decimal(20, 12)) from {{ prefix }}_hces
),

{{ prefix }}_ratio_sums as (
    select
        breakpoints.scenario_id,
        breakpoints.test,
        breakpoints.level,
        cast(sum(least(hces.ratio, breakpoints.level)) as double) as capped_sum,
        count(*) filter (where hces.ratio > breakpoints.level) as above,
        max(hces.hces * hces.hce_limit) as target
    from {{ prefix }}_ratio_breakpoints as breakpoints
    inner join {{ prefix }}_hces as hces on breakpoints.scenario_id = hces.scenario_id and breakpoints.test = hces.test
    group by breakpoints.scenario_id, breakpoints.test, breakpoints.level
),

{{ prefix }}_ratio_levels as (
    select scenario_id, test, level + (target - capped_sum) / above as ratio_level
    from (
        select *, row_number() over (partition by scenario_id, test order by level desc) as pick
        from {{ prefix }}_ratio_sums
        where capped_sum <= target and above > 0
    ) as candidates
    where pick = 1
),

{{ prefix }}_excess as (
    select
        hces.scenario_id,
        hces.test,
        {#- each employee's excess in whole cents first (exact decimals), then the sum -#}
        sum(cast(greatest(0, hces.ratio - levels.ratio_level) * hces.test_compensation as decimal(18, 2)))
            as excess_total
    from {{ prefix }}_hces as hces
    inner join {{ prefix }}_ratio_levels as levels on hces.scenario_id = levels.scenario_id and hces.test = levels.test
    group by hces.scenario_id, hces.test
),

{#- step 2: the dollar level D whose excess over it is the total -#}
{{ prefix }}_amount_breakpoints as (
    select scenario_id, test, amount as level from {{ prefix }}_hces
    union
    select distinct scenario_id, test, cast(0 as decimal(18, 2)) from {{ prefix }}_hces
),

{{ prefix }}_amount_sums as (
    select
        breakpoints.scenario_id,
        breakpoints.test,
        breakpoints.level,
        sum(greatest(0, hces.amount - breakpoints.level)) as excess_above,
        count(*) filter (where hces.amount >= breakpoints.level) as at_or_above
    from {{ prefix }}_amount_breakpoints as breakpoints
    inner join {{ prefix }}_hces as hces on breakpoints.scenario_id = hces.scenario_id and breakpoints.test = hces.test
    group by breakpoints.scenario_id, breakpoints.test, breakpoints.level
),

{{ prefix }}_amount_levels as (
    select candidates.scenario_id, candidates.test, candidates.level - (excess.excess_total - candidates.excess_above)
        / candidates.at_or_above as amount_level
    from (
        select
            sums.*,
            row_number() over (partition by sums.scenario_id, sums.test order by sums.level) as pick
        from {{ prefix }}_amount_sums as sums
        inner join {{ prefix }}_excess as excess on sums.scenario_id = excess.scenario_id and sums.test = excess.test
        where sums.excess_above <= excess.excess_total
    ) as candidates
    inner join {{ prefix }}_excess as excess on candidates.scenario_id = excess.scenario_id and candidates.test = excess.test
    where candidates.pick = 1
),

{{ prefix }}_refunds as (
    select
        hces.scenario_id,
        hces.test,
        hces.employee_id,
        round(greatest(0, hces.amount - levels.amount_level), 2) as refund
    from {{ prefix }}_hces as hces
    inner join {{ prefix }}_amount_levels as levels on hces.scenario_id = levels.scenario_id and hces.test = levels.test
)
{%- endmacro %}
