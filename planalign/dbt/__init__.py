"""Everything that touches dbt: parsing a project into the engine's nodes, the real invoker, and the
isolation layer — the only code that relies on dbt's internals.
"""
