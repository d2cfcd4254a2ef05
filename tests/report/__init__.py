"""Tests of the HTML run report (issue #7)."""
