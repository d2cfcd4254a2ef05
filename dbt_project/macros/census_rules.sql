{#-
  The census bad-row rules, in exactly one place: how the file is read, how its values are normalised, and
  which rows are rejected.

  This file must stay plain Jinja (no dbt context): planalign/census.py renders it with jinja2 to run the
  same reader, projection and rules as a pre-flight check on an in-memory DuckDB, so `planalign census
  --check` and the run can never disagree about a row. The rules are evaluated over rows whose seven census
  columns are all text, trimmed, with blank text read as null (a CSV's " " and a Parquet file's '' mean
  "empty", like a missing value), so unparseable values become reasons instead of cast errors.
  A row gets the first reason that applies; null means the row is good. Every copy of a duplicated id is
  rejected, because nothing tells which copy is right.

  What a good row guarantees to stg_census_data, which casts it: every date parses, the pay is a finite
  number in (0, 1e9], the job level is exactly one of 1..5, the deferral rate is empty or a number in [0, 1],
  the employee was born in 1900 or later and is at least 14 on the effective date, the id cannot be
  confused with an id the simulation generates for a hire (see hire_employee_id below), and the id does not
  begin like a spreadsheet formula (see census_formula_prefixes below).
-#}

{#- A file path as a DuckDB string literal that is read literally: DuckDB expands `*`, `?` and `[...]` in
    file names as globs, so `census[1].csv` would read `census1.csv`; a one-character class `[x]` matches x
    only. -#}
{% macro census_file_literal(path) -%}
'{{ path | replace("'", "''") | replace("[", "[[]") | replace("*", "[*]") | replace("?", "[?]") }}'
{%- endmacro %}

{#- The census file as a relation (CSV with a header, all text; or Parquet); '' for another extension.
    The optional columns (census_optional_columns) are always there: a file without one gets it as null
    (`union all by name` with an empty relation of those columns keeps the file's rows and their order). -#}
{% macro census_reader(path) -%}
    {%- set lowered = path | lower -%}
    {%- if lowered.endswith('.csv') -%}
        {{ census_with_optional_columns("read_csv(" ~ census_file_literal(path) ~ ", header = true, all_varchar = true)") }}
    {%- elif lowered.endswith('.parquet') -%}
        {{ census_with_optional_columns("read_parquet(" ~ census_file_literal(path) ~ ")") }}
    {%- endif -%}
{%- endmacro %}

{#- Census columns a file may leave out (issue #20): opening_balance, the participant's whole account
    balance on the effective date (employee and employer money, treated as vested); absent or blank = 0.
    Issue #23: prior_year_compensation, the pay received from the employer in the year before the first
    simulated year (the HCE look-back year, IRC 414(q)(1)(B)); absent or blank = the pay rate;
    ownership_share, the share of the employer the employee owns (0 to 1, IRC 416(i)(1)(B)); blank = 0. -#}
{% macro census_optional_columns() -%}
opening_balance,prior_year_compensation,ownership_share
{%- endmacro %}

{% macro census_with_optional_columns(relation) -%}
(select * from {{ relation }} union all by name (select
    {%- for column in census_optional_columns().split(',') %} cast(null as varchar) as {{ column }}{{ "," if not loop.last }}{% endfor %} where false))
{%- endmacro %}

{#- The census columns, in order; both the dbt staging model and the pre-flight check read exactly these. -#}
{% macro census_columns() -%}
employee_id,birth_date,hire_date,termination_date,annual_compensation,job_level,deferral_rate
{%- endmacro %}

{#- The projection the rules see: each census column as trimmed text, blank as null. -#}
{% macro census_projection() -%}
    {%- for column in (census_columns() ~ ',' ~ census_optional_columns()).split(',') -%}
    nullif(trim(cast({{ column }} as varchar)), '') as {{ column }}{{ ", " if not loop.last }}
    {%- endfor -%}
{%- endmacro %}

{#- Ids the simulation gives its hires: NH<year>_<sequence>, the sequence zero-padded to six digits and
    never truncated (a seventh digit widens it), so ids stay unique beyond 999,999 hires a year. -#}
{% macro hire_employee_id(year, seq_expr) -%}
'NH{{ year }}_' || lpad(cast({{ seq_expr }} as varchar), cast(greatest(6, length(cast({{ seq_expr }} as varchar))) as integer), '0')
{%- endmacro %}

{#- The shape of every id hire_employee_id can produce; a census id of this shape is rejected. -#}
{% macro hire_employee_id_pattern() -%}NH[0-9]+_[0-9]+{%- endmacro %}

{#- The first characters that make a spreadsheet read a cell as a formula (OWASP's CSV-injection list:
    = + - @ tab carriage-return): an id such as `=HYPERLINK(...)` would run when an export is opened.
    planalign/scenarios/spreadsheet.py's FORMULA_PREFIXES is the same list (a test holds them equal). -#}
{% macro census_formula_prefixes() -%}'=', '+', '-', '@', chr(9), chr(13){%- endmacro %}

{#- Pay above this is not an annual pay rate (it would also overflow the decimal(18, 2) pay columns). -#}
{% macro census_max_compensation() -%}1000000000{%- endmacro %}

{#- `effective_date` is an ISO date text (YYYY-MM-DD), already validated by the caller. -#}
{% macro census_reject_reason(effective_date) -%}
case
    when employee_id is null then 'missing_employee_id'
    when left(employee_id, 1) in ({{ census_formula_prefixes() }}) then 'formula_employee_id'
    when count(*) over (partition by employee_id) > 1 then 'duplicate_employee_id'
    when regexp_full_match(employee_id, '{{ hire_employee_id_pattern() }}') then 'reserved_employee_id'
    when try_cast(birth_date as date) is null then 'invalid_birth_date'
    when try_cast(hire_date as date) is null then 'invalid_hire_date'
    when termination_date is not null and try_cast(termination_date as date) is null
        then 'invalid_termination_date'
    when try_cast(annual_compensation as double) is null then 'missing_compensation'
    when try_cast(annual_compensation as double) <= 0 then 'non_positive_compensation'
    when not isfinite(try_cast(annual_compensation as double))
        or try_cast(annual_compensation as double) > {{ census_max_compensation() }}
        then 'implausible_compensation'
    when try_cast(job_level as double) is null or try_cast(job_level as double) not in (1, 2, 3, 4, 5)
        then 'invalid_job_level'
    when deferral_rate is not null
        and coalesce(not isfinite(try_cast(deferral_rate as double))
            or try_cast(deferral_rate as double) not between 0 and 1, true)
        then 'invalid_deferral_rate'
    when opening_balance is not null
        and coalesce(not isfinite(try_cast(opening_balance as double))
            or try_cast(opening_balance as double) not between 0 and {{ census_max_compensation() }}, true)
        then 'invalid_opening_balance'
    when prior_year_compensation is not null
        and coalesce(not isfinite(try_cast(prior_year_compensation as double))
            or try_cast(prior_year_compensation as double) not between 0 and {{ census_max_compensation() }}, true)
        then 'invalid_prior_year_compensation'
    when ownership_share is not null
        and coalesce(not isfinite(try_cast(ownership_share as double))
            or try_cast(ownership_share as double) not between 0 and 1, true)
        then 'invalid_ownership_share'
    when try_cast(birth_date as date) < date '1900-01-01'
        or try_cast(birth_date as date) > date '{{ effective_date }}' - interval 14 year
        then 'implausible_birth_date'
    when try_cast(hire_date as date) > date '{{ effective_date }}' then 'hire_after_effective_date'
    when try_cast(termination_date as date) < try_cast(hire_date as date) then 'termination_before_hire'
    when try_cast(birth_date as date) >= try_cast(hire_date as date) then 'birth_not_before_hire'
end
{%- endmacro %}
