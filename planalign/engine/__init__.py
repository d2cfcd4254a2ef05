"""The parallel execution engine: graph, classification, plan, scheduling, invocation protocols, results.

Knows nothing of dbt or of the simulation: it schedules the nodes of any DAG through a `ModelInvoker`.
"""
