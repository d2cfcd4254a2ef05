"""Shared fixtures. Real-dbt fixtures live next to the tests that need them."""
