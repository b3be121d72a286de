"""Wiring of retention: retention_job (archive, verify, drop) and restore_job."""
