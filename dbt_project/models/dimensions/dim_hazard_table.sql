{#-
  Year-invariant hazards for every scenario x level x age band x tenure band: the promotion probability and
  the relative termination weight (who is more likely to be among the year's terminations).
-#}
select
    levels.scenario_id,
    levels.job_level,
    ages.age_band,
    ages.min_age,
    ages.max_age,
    tenures.tenure_band,
    tenures.min_tenure,
    tenures.max_tenure,
    case
        when levels.job_level >= 5 then 0.0
        else least(1.0, levels.promotion_base_rate * ages.promotion_multiplier * tenures.promotion_multiplier)
    end as promotion_rate,
    levels.termination_weight * ages.termination_multiplier * tenures.termination_multiplier
        as termination_weight
from {{ ref('stg_config_job_levels') }} as levels
inner join {{ ref('stg_config_age_bands') }} as ages
    on levels.scenario_id = ages.scenario_id
inner join {{ ref('stg_config_tenure_bands') }} as tenures
    on levels.scenario_id = tenures.scenario_id
