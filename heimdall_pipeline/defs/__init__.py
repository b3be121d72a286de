"""The Dagster layer: thin wiring from assets, sensors, schedules and checks to the library."""
