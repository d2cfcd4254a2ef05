"""The workforce and retirement-plan simulation: configuration, census, stages, the database's state,
the orchestration of years and stages over the engine, and the specification's `DbtRunner` API.
"""
