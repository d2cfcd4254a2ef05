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
{% macro planalign_levelled_corrections(tested, prefix, benchmarks) -%}
{{ prefix }}_current_averages as (
    select
        scenario_id,
        test,
        {{ planalign_average_basis_points('ratio', 'not is_hce') }} as current_nhce_basis_points,
        {{ planalign_average_basis_points('ratio', 'is_hce') }} as hce_basis_points,
        count(*) filter (where is_hce) as hces
    from {{ tested }}
    group by scenario_id, test
),

{#- the NHCE average the HCEs are held to: the previous year's with prior-year testing (`benchmarks`,
    int_nondiscrimination_benchmarks), else this year's -#}
{{ prefix }}_averages as (
    select
        averages.scenario_id,
        averages.test,
        coalesce(benchmarks.nhce_basis_points, averages.current_nhce_basis_points) as nhce_basis_points,
        averages.hce_basis_points,
        averages.hces
    from {{ prefix }}_current_averages as averages
    left join {{ benchmarks }} as benchmarks
        on averages.scenario_id = benchmarks.scenario_id and averages.test = benchmarks.test
),

{{ prefix }}_limits as (
    select
        *,
        nhce_basis_points / 10000.0 as nhce_average,
        hce_basis_points / 10000.0 as hce_average,
        greatest(1.25 * nhce_basis_points, least(nhce_basis_points + 200, 2 * nhce_basis_points)) / 10000.0
            as hce_limit,
        {{ planalign_test_passed('hce_basis_points', 'nhce_basis_points') }} as passed
    from {{ prefix }}_averages
),

{{ prefix }}_hces as (
    select tested.*, limits.hce_limit, limits.hces
    from {{ tested }} as tested
    inner join {{ prefix }}_limits as limits on tested.scenario_id = limits.scenario_id and tested.test = limits.test
    where tested.is_hce and not limits.passed
),

{#- step 1: the ratio level L at which the HCE average equals the limit: the ratios' excess over L is their
    sum less the HCEs x the limit -#}
{{ prefix }}_ratios as (
    select scenario_id, test, ratio as value from {{ prefix }}_hces
),

{{ prefix }}_ratio_total as (
    select scenario_id, test, cast(sum(ratio) as double) - max(hces * hce_limit) as total
    from {{ prefix }}_hces
    group by scenario_id, test
),

{{ planalign_level_down(prefix ~ '_ratio', prefix ~ '_ratios', prefix ~ '_ratio_total') }},

{{ prefix }}_excess as (
    select
        hces.scenario_id,
        hces.test,
        {#- each employee's excess in whole cents first (exact decimals), then the sum -#}
        sum(cast(greatest(0, hces.ratio - levels.level) * hces.test_compensation as decimal(18, 2)))
            as total
    from {{ prefix }}_hces as hces
    inner join {{ prefix }}_ratio_levels as levels on hces.scenario_id = levels.scenario_id and hces.test = levels.test
    group by hces.scenario_id, hces.test
),

{#- step 2: the dollar level D whose excess over it is the total -#}
{{ prefix }}_amounts as (
    select scenario_id, test, amount as value from {{ prefix }}_hces
),

{{ planalign_level_down(prefix ~ '_amount', prefix ~ '_amounts', prefix ~ '_excess') }},

{{ prefix }}_refunds as (
    select
        hces.scenario_id,
        hces.test,
        hces.employee_id,
        round(greatest(0, hces.amount - levels.level), 2) as refund
    from {{ prefix }}_hces as hces
    inner join {{ prefix }}_amount_levels as levels on hces.scenario_id = levels.scenario_id and hces.test = levels.test
)
{%- endmacro %}


{#-
  The level L of a set of values whose excess over it, sum(max(0, value - L)), is a given total: both steps of
  the levelling above. CTEs <name>_breakpoints, <name>_sums and <name>_levels (scenario_id, test, level);
  `values` has (scenario_id, test, value) rows, `totals` (scenario_id, test, total). The excess falls as L
  rises and is linear between two neighbouring values (or 0), so L lies below the lowest breakpoint whose
  excess is at most the total, by the rest of the total shared among the values at or above it.
-#}
{% macro planalign_level_down(name, values, totals) -%}
{{ name }}_breakpoints as (
    select scenario_id, test, value as level from {{ values }}
    union
    select distinct scenario_id, test, 0 from {{ values }}
),

{{ name }}_sums as (
    select
        breakpoints.scenario_id,
        breakpoints.test,
        breakpoints.level,
        sum(greatest(0, vals.value - breakpoints.level)) as excess_above,
        count(*) filter (where vals.value >= breakpoints.level) as at_or_above
    from {{ name }}_breakpoints as breakpoints
    inner join {{ values }} as vals on breakpoints.scenario_id = vals.scenario_id and breakpoints.test = vals.test
    group by breakpoints.scenario_id, breakpoints.test, breakpoints.level
),

{{ name }}_levels as (
    select candidates.scenario_id, candidates.test,
        candidates.level - (totals.total - candidates.excess_above) / candidates.at_or_above as level
    from (
        select
            sums.*,
            row_number() over (partition by sums.scenario_id, sums.test order by sums.level) as pick
        from {{ name }}_sums as sums
        inner join {{ totals }} as totals on sums.scenario_id = totals.scenario_id and sums.test = totals.test
        where sums.excess_above <= totals.total
    ) as candidates
    inner join {{ totals }} as totals on candidates.scenario_id = totals.scenario_id and candidates.test = totals.test
    where candidates.pick = 1
)
{%- endmacro %}


{#-
  Treas. Reg. 1.401(k)-2(a)(3)(ii) and 1.401(m)-2(a)(3)(ii) (issue #23 item 7): each employee's ratio and each
  group's average are taken to the nearest one-hundredth of one percent. The ratios are rounded where they are
  made (int_nondiscrimination_corrections); this is a group's average of `ratio` over the rows where
  `condition` holds, in whole basis points (0.01%), rounded half up in integers so the comparison below is
  exact (null for no rows).
-#}
{% macro planalign_average_basis_points(ratio, condition) -%}
    ((2 * sum(cast(round({{ ratio }} * 10000) as bigint)) filter (where {{ condition }})
        + count(*) filter (where {{ condition }}))
        // nullif(2 * count(*) filter (where {{ condition }}), 0))
{%- endmacro %}

{#- The test of IRC 401(k)(3)(A)(ii) / 401(m)(2)(A) on the averages in basis points: the HCE average at most
    the greater of 1.25 x the NHCE average and the lesser of NHCE + 2 points and 2 x NHCE, in integers
    (x 4); passed when either group is empty. -#}
{% macro planalign_test_passed(hce, nhce) -%}
    coalesce(4 * {{ hce }} <= greatest(5 * {{ nhce }}, least(4 * {{ nhce }} + 800, 8 * {{ nhce }})), true)
{%- endmacro %}

