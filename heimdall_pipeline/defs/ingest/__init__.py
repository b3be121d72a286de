"""Wiring of the ingest stage: assets, checks, the discovery sensor, schedules."""
