{#-
  The scenarios this build simulates, one row each (macros/scenarios.sql): without the `scenarios` var the one
  scenario of the top-level vars, with it every item of the list. Every model starts from this relation (the
  shared census and seeds are cross joined with it), and every draw hashes its random_seed.
-#}
{%- set scenarios = planalign_scenarios() %}
select
    cast(scenarios.scenario_id as varchar) as scenario_id,
    cast(scenarios.scenario_name as varchar) as scenario_name,
    cast(scenarios.random_seed as bigint) as random_seed
from (
    values
    {%- for scenario in scenarios %}
        ('{{ scenario["scenario_id"] }}', '{{ scenario["scenario_name"] | replace("'", "''") }}',
            {{ scenario["random_seed"] }}){{ "," if not loop.last }}
    {%- endfor %}
) as scenarios (scenario_id, scenario_name, random_seed)
