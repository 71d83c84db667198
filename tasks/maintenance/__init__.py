"""Maintenance: periodic jobs (refresh, metrics, cleanup, stale sweep) and diagnostics tasks."""
