"""Heimdall's side: the worker API and the Celery task that calls it (no Dagster here)."""
