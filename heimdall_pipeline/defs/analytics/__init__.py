"""Wiring of the reports: five report assets, timescaledb_health, reports_job."""
