{#- Every event of the simulation, one row per (scenario, employee, year, event type); re-running a year
    replaces it (for the scenarios built). event_id hashes (employee, year, event type) as in a single run;
    the key is (scenario_id, event_id). -#}
with events as (
    select scenario_id, employee_id, simulation_year, event_type, effective_date,
        cast(null as decimal(18, 2)) as compensation_before, compensation_after,
        cast(null as integer) as level_before, level_after,
        cast(null as decimal(8, 4)) as deferral_rate_before, cast(null as decimal(8, 4)) as deferral_rate_after,
        cast(null as varchar) as termination_kind, cast(null as varchar) as enrollment_source
    from {{ ref('int_hiring_events') }}
    union all
    select scenario_id, employee_id, simulation_year, event_type, effective_date,
        compensation_before, cast(null as decimal(18, 2)),
        level_before, cast(null as integer),
        cast(null as decimal(8, 4)), cast(null as decimal(8, 4)),
        termination_kind, cast(null as varchar) as enrollment_source
    from {{ ref('int_termination_events') }}
    union all
    select scenario_id, employee_id, simulation_year, event_type, effective_date,
        compensation_before, cast(null as decimal(18, 2)),
        level_before, cast(null as integer),
        cast(null as decimal(8, 4)), cast(null as decimal(8, 4)),
        termination_kind, cast(null as varchar) as enrollment_source
    from {{ ref('int_new_hire_termination_events') }}
    union all
    select scenario_id, employee_id, simulation_year, event_type, effective_date,
        compensation_before, compensation_after, level_before, level_after,
        cast(null as decimal(8, 4)), cast(null as decimal(8, 4)),
        cast(null as varchar), cast(null as varchar)
    from {{ ref('int_promotion_events') }}
    union all
    select scenario_id, employee_id, simulation_year, event_type, effective_date,
        compensation_before, compensation_after, level_before, level_after,
        cast(null as decimal(8, 4)), cast(null as decimal(8, 4)),
        cast(null as varchar), cast(null as varchar)
    from {{ ref('int_merit_events') }}
    union all
    select scenario_id, employee_id, simulation_year, event_type, effective_date,
        cast(null as decimal(18, 2)), cast(null as decimal(18, 2)),
        cast(null as integer), cast(null as integer),
        deferral_rate_before, deferral_rate_after,
        cast(null as varchar), enrollment_source
    from {{ ref('int_enrollment_events') }}
    union all
    select scenario_id, employee_id, simulation_year, event_type, effective_date,
        cast(null as decimal(18, 2)), cast(null as decimal(18, 2)),
        cast(null as integer), cast(null as integer),
        deferral_rate_before, deferral_rate_after,
        cast(null as varchar), cast(null as varchar)
    from {{ ref('int_deferral_escalation_events') }}
)

select
    cast(scenario_id as varchar) as scenario_id,
    cast({{ planalign_hash_text("concat_ws('|', employee_id, cast(simulation_year as varchar), event_type)") }}
        as varchar) as event_id,
    cast(employee_id as varchar) as employee_id,
    cast(simulation_year as integer) as simulation_year,
    cast(event_type as varchar) as event_type,
    cast(effective_date as date) as effective_date,
    cast(compensation_before as decimal(18, 2)) as compensation_before,
    cast(compensation_after as decimal(18, 2)) as compensation_after,
    cast(level_before as integer) as level_before,
    cast(level_after as integer) as level_after,
    cast(deferral_rate_before as decimal(8, 4)) as deferral_rate_before,
    cast(deferral_rate_after as decimal(8, 4)) as deferral_rate_after,
    cast(termination_kind as varchar) as termination_kind,
    cast(enrollment_source as varchar) as enrollment_source
from events
