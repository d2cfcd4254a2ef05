{#-
  Lean `table` and `incremental` materializations for DuckDB (issue #25; docs/benchmarks.md "Where a model
  run goes"). A root project may override an adapter's materialization by name (dbt resolves the root
  project's first), so the models keep `materialized: table` / `incremental` and every tool that reads those
  configs still sees them.

  Why: dbt-duckdb 1.11's materializations build into an intermediate relation and rename it into place, and
  before that look up indexes, foreign-key constraints and column types — six to nine statements and a
  long Jinja render per model, where the SQL floor needs two. What these do instead, inside ONE transaction
  (DuckDB's DDL is transactional, so a failed or interrupted build is rolled back and the previous table is
  still there, as with dbt-duckdb's own "build in place" path for tables with foreign keys):
  - table: drop the existing relation, `create table ... as` under its final name, commit;
  - incremental, delete+insert or append, when the table exists and no full refresh is asked for: the new
    rows into a temporary table, one query comparing its columns with the target's (on_schema_change `fail`
    fails as dbt does; `ignore` inserts the target's columns), delete the rows whose `unique_key` matches,
    insert, drop the temporary table, commit;
  - first build of an incremental: like a table.
  Contracts are enforced as by dbt-duckdb: its `create_table_as`, which both paths call, asserts the query's
  columns and types against the contract (dbt's "This model has an enforced contract that failed" error),
  for the temporary table of an incremental run too, and creates a contracted table with its declared
  types and not_null/check/primary key/unique constraints before inserting the rows; an incremental run's
  insert into that table is checked by the same constraints (tests/dbt_project/test_marts_contracts.py).
  Anything these do not cover — Python models, grants, indexes, persist_docs, partitioning or sorting,
  foreign key constraints (a table they reference must not be dropped and re-created), MotherDuck or
  DuckLake, other incremental strategies or on_schema_change modes, list unique keys, full refresh — is
  handed to dbt-duckdb's own materialization unchanged.
-#}

{% macro planalign_lean_materialization_applies() %}
  {%- if model['language'] != 'sql' -%}{{ return(false) }}{%- endif -%}
  {%- if config.get('grants') or config.get('indexes') or config.get('partitioned_by') or config.get('sorted_by') -%}
    {{ return(false) }}
  {%- endif -%}
  {%- if config.persist_relation_docs() or config.persist_column_docs() -%}{{ return(false) }}{%- endif -%}
  {%- for constraint in model.get('constraints', []) if constraint.get('type') == 'foreign_key' -%}
    {{ return(false) }}
  {%- endfor -%}
  {%- for column in model.get('columns', {}).values() -%}
    {%- for constraint in column.get('constraints', []) if constraint.get('type') == 'foreign_key' -%}
      {{ return(false) }}
    {%- endfor -%}
  {%- endfor -%}
  {%- if adapter.is_motherduck() or adapter.is_ducklake(this) -%}{{ return(false) }}{%- endif -%}
  {{ return(true) }}
{% endmacro %}


{% macro planalign_lean_replace_table(existing_relation, target_relation) %}
  {#- Drop and create under the final name in the transaction the materialization commits. -#}
  {% do adapter.ensure_transaction() %}
  {% if existing_relation is not none %}
    {% do adapter.drop_relation(existing_relation) %}
  {% endif %}
  {% call statement('main') -%}
    {{- create_table_as(False, target_relation, sql) }}
  {%- endcall %}
{% endmacro %}


{% materialization table, adapter='duckdb', supported_languages=['sql', 'python'] %}
  {%- if not planalign_lean_materialization_applies() -%}
    {{ return(dbt.materialization_table_duckdb()) }}
  {%- endif -%}
  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set target_relation = this.incorporate(type='table') -%}
  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}
  {% do planalign_lean_replace_table(existing_relation, target_relation) %}
  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {{ adapter.commit() }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{% macro planalign_lean_incremental_applies(existing_relation) %}
  {%- if not planalign_lean_materialization_applies() -%}{{ return(false) }}{%- endif -%}
  {%- if existing_relation is not none and (existing_relation.is_view or should_full_refresh()) -%}
    {{ return(false) }}
  {%- endif -%}
  {%- set strategy = config.get('incremental_strategy') or 'delete+insert' -%}
  {%- if strategy not in ('delete+insert', 'append') -%}{{ return(false) }}{%- endif -%}
  {%- set unique_key = config.get('unique_key') -%}
  {%- if strategy == 'delete+insert' and (unique_key is none or unique_key is not string) -%}
    {{ return(false) }}
  {%- endif -%}
  {%- if config.get('on_schema_change') not in (none, 'ignore', 'fail') -%}{{ return(false) }}{%- endif -%}
  {%- if config.get('predicates') or config.get('incremental_predicates') -%}{{ return(false) }}{%- endif -%}
  {%- if adapter.batch_id_for_model(model) -%}{{ return(false) }}{%- endif -%}
  {{ return(true) }}
{% endmacro %}


{% macro planalign_lean_insert_columns(target_relation, temp_relation) %}
  {#- One query for both column lists; on_schema_change `fail` raises when they differ (dbt's rule: a column
      added, removed or of another type), otherwise the target's columns are the ones inserted. -#}
  {% call statement('planalign_columns', fetch_result=True, auto_begin=False) %}
    select 'target' as side, lower(column_name) as name, column_name, data_type, column_index
    from duckdb_columns()
    where database_name = '{{ adapter.escape_sql_string(target_relation.database) }}'
      and schema_name = '{{ adapter.escape_sql_string(target_relation.schema) }}'
      and table_name = '{{ adapter.escape_sql_string(target_relation.identifier) }}'
    union all
    select 'source', lower(column_name), column_name, data_type, column_index
    from duckdb_columns()
    where database_name = 'temp' and table_name = '{{ adapter.escape_sql_string(temp_relation.identifier) }}'
    order by side desc, column_index
  {% endcall %}
  {%- set target_columns = [] -%}
  {%- set target_types = {} -%}
  {%- set source_types = {} -%}
  {%- for row in load_result('planalign_columns').table.rows -%}
    {%- if row[0] == 'target' -%}
      {%- do target_columns.append(row[2]) -%}
      {%- do target_types.update({row[1]: row[3]}) -%}
    {%- else -%}
      {%- do source_types.update({row[1]: row[3]}) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if config.get('on_schema_change') == 'fail' and target_types != source_types -%}
    {%- set added = source_types.keys() | reject('in', target_types) | list -%}
    {%- set removed = target_types.keys() | reject('in', source_types) | list -%}
    {%- set retyped = [] -%}
    {%- for name, dtype in source_types.items() if name in target_types and target_types[name] != dtype -%}
      {%- do retyped.append(name ~ ' ' ~ target_types[name] ~ ' -> ' ~ dtype) -%}
    {%- endfor -%}
    {% do exceptions.raise_compiler_error(
        'The source and target schemas on this incremental model are out of sync! '
        ~ 'They can be reconciled in several ways: set the `on_schema_change` config to '
        ~ '`append_new_columns` or `sync_all_columns`, or re-run the model with a full refresh. '
        ~ 'Columns added: ' ~ (added | join(', ') or 'none') ~ '; removed: ' ~ (removed | join(', ') or 'none')
        ~ '; of another type: ' ~ (retyped | join(', ') or 'none')) %}
  {%- endif -%}
  {{ return(target_columns) }}
{% endmacro %}


{% materialization incremental, adapter='duckdb', supported_languages=['sql', 'python'] %}
  {%- set existing_relation = load_cached_relation(this) -%}
  {%- if not planalign_lean_incremental_applies(existing_relation) -%}
    {{ return(dbt.materialization_incremental_duckdb()) }}
  {%- endif -%}
  {%- set target_relation = this.incorporate(type='table') -%}
  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}
  {% if existing_relation is none %}
    {% do planalign_lean_replace_table(none, target_relation) %}
  {% else %}
    {%- set temp_relation = make_temp_relation(target_relation) -%}
    {% do adapter.ensure_transaction() %}
    {% call statement('planalign_new_rows') -%}
      {{- create_table_as(True, temp_relation, sql) }}
    {%- endcall %}
    {%- set columns = planalign_lean_insert_columns(target_relation, temp_relation) -%}
    {%- set column_list = get_quoted_csv(columns) -%}
    {%- set unique_key = config.get('unique_key') -%}
    {% call statement('main') -%}
      {% if (config.get('incremental_strategy') or 'delete+insert') == 'delete+insert' -%}
      delete from {{ target_relation }} where ({{ unique_key }}) in (select ({{ unique_key }}) from {{ temp_relation }});
      {% endif -%}
      insert into {{ target_relation }} ({{ column_list }}) (select {{ column_list }} from {{ temp_relation }});
      drop table {{ temp_relation }}
    {%- endcall %}
  {% endif %}
  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {% do adapter.commit() %}
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
