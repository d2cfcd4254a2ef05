{#-
  Deferral elections that respond to the plan (issue #20 item 1; docs/methodology.md "Deferral behaviour").
  tests/dbt_project/test_deferral_response.py recomputes every rule here in Python.
-#}

{#- The whole-percent and round rates a participant who does not pick the match-maximizing rate chooses
    among, ascending (HAS: elections cluster on whole and round percentages; 15% stands for "a lot", the
    limit of the choices modelled). -#}
{% macro planalign_round_deferral_rates() -%}
    {{ return([0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.10, 0.12, 0.15]) }}
{%- endmacro %}

{#- Per scenario: the match-maximizing deferral rate (the smallest rate that earns the largest match the tiers
    and match_cap_rate allow, rounded to 4 decimals like deferral rates; null without a positive match) and
    the match per dollar deferred at that rate (0 without a match). A stretch formula (50% of 6%) has 6%;
    the shipped 100% of 3% + 50% of the next 2% has 5% and 0.80 per dollar. A select over `params_relation`
    (int_effective_parameters rows) and int_effective_match_tiers. -#}
{% macro planalign_match_anchor(params_relation) -%}
    select
        params.scenario_id,
        anchors.match_maximizing_rate,
        coalesce(anchors.max_match / anchors.match_maximizing_rate, 0) as match_per_dollar
    from {{ params_relation }} as params
    left join (
        select
            tiers.scenario_id,
            values_.max_match,
            round(min(tiers.employee_min
                + (values_.max_match - (tiers.cum_after - tiers.match_rate * (tiers.employee_max - tiers.employee_min)))
                    / tiers.match_rate), 4) as match_maximizing_rate
        from (
            select
                scenario_id, tier, employee_min, employee_max, match_rate,
                sum(match_rate * (employee_max - employee_min)) over (partition by scenario_id order by tier)
                    as cum_after
            from {{ ref('int_effective_match_tiers') }}
            where match_rate > 0 and employee_max > employee_min
        ) as tiers
        inner join (
            select positive.scenario_id, least(sum(positive.match_rate * (positive.employee_max - positive.employee_min)),
                max(p.match_cap_rate)) as max_match
            from {{ ref('int_effective_match_tiers') }} as positive
            inner join {{ params_relation }} as p on positive.scenario_id = p.scenario_id
            where positive.match_rate > 0 and positive.employee_max > positive.employee_min
            group by positive.scenario_id
        ) as values_ on tiers.scenario_id = values_.scenario_id
        where values_.max_match > 0 and tiers.cum_after >= values_.max_match
        group by tiers.scenario_id, values_.max_match
    ) as anchors on params.scenario_id = anchors.scenario_id
{%- endmacro %}

{#- The round rate at 0-based position `index_expr` of planalign_round_deferral_rates(). -#}
{% macro planalign_round_rate_at(index_expr) -%}
    {%- set rates = planalign_round_deferral_rates() -%}
    case cast({{ index_expr }} as integer)
        {%- for r in rates %} when {{ loop.index0 }} then {{ r }}{% endfor %} end
{%- endmacro %}

{#- How many round rates are below (strict=true) or at most `anchor` (0 when anchor is null). -#}
{% macro planalign_round_rates_below(anchor, strict) -%}
    ({%- for r in planalign_round_deferral_rates() -%}
        case when {{ anchor }} {{ '>' if strict else '>=' }} {{ r }} then 1 else 0 end{{ ' + ' if not loop.last }}
    {%- endfor -%})
{%- endmacro %}

{#-
  A voluntary deferral election from the uniform draw `u`: with probability at_share the match-maximizing
  rate `anchor`; with probability below_share a round rate below it (uniform among them); otherwise a round
  rate above it. Without a match (anchor null) uniform over the round rates; an empty side's share goes to
  the other side. Positions are clamped so float rounding never leaves the list.
-#}
{% macro planalign_voluntary_deferral_rate(u, anchor, at_share, below_share) -%}
    {%- set n = planalign_round_deferral_rates() | length -%}
    {%- set n_lt = planalign_round_rates_below(anchor, true) -%}
    {%- set n_le = planalign_round_rates_below(anchor, false) -%}
    {%- set at = '(case when ' ~ anchor ~ ' is null then 0.0 else ' ~ at_share ~ ' end)' -%}
    {%- set below = '(case when ' ~ anchor ~ ' is null or ' ~ n_lt ~ ' = 0 then 0.0 when ' ~ n_le ~ ' = ' ~ n
        ~ ' then 1.0 - ' ~ at ~ ' else ' ~ below_share ~ ' end)' -%}
    case
        when {{ u }} < {{ at }} then {{ anchor }}
        when {{ u }} < {{ at }} + {{ below }} then {{ planalign_round_rate_at(
            'least(greatest(floor((' ~ u ~ ' - ' ~ at ~ ') / ' ~ below ~ ' * ' ~ n_lt ~ '), 0), ' ~ n_lt ~ ' - 1)') }}
        else {{ planalign_round_rate_at(
            'least(greatest(' ~ n_le ~ ' + floor((' ~ u ~ ' - ' ~ at ~ ' - ' ~ below ~ ') / greatest(1.0 - ' ~ at ~ ' - '
            ~ below ~ ', 1e-12) * (' ~ n ~ ' - ' ~ n_le ~ ')), ' ~ n_le ~ '), ' ~ (n - 1) ~ ')') }}
    end
{%- endmacro %}
