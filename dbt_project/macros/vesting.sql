{#-
  The vested share of an employee's employer money (issue #23): the plan's schedule
  (int_effective_vesting_schedule) for the completed years of service, or all of it from the plan's normal
  retirement age (IRC 411(a): the right to the accrued benefit is nonforfeitable on reaching it), the age on
  the termination date, or on December 31 for an active. `snapshot` is an alias of a year's
  int_workforce_snapshot_optimized rows and `params` of int_effective_parameters. One macro so that the
  employer accounts (int_employer_contribution_accounts) and the ACP correction's vested part
  (int_nondiscrimination_corrections) use the same share.
-#}
{% macro planalign_vested_share(snapshot, params) -%}
    case
        when {{ planalign_full_years(snapshot ~ '.birth_date', 'coalesce(' ~ snapshot ~ '.termination_date, ' ~ params ~ '.year_end)') }}
            >= {{ params }}.normal_retirement_age then 1
        else coalesce((
            select schedule.vested_share
            from {{ ref('int_effective_vesting_schedule') }} as schedule
            where schedule.scenario_id = {{ snapshot }}.scenario_id
                and schedule.years_of_service <= {{ snapshot }}.tenure_years
            order by schedule.years_of_service desc
            limit 1
        ), 0)
    end
{%- endmacro %}
