"""Plug-ins of the Dagster instance (named in dagster.yaml), not of the code location."""
