"""Old days archived to Parquet and dropped; TimescaleDB's own health."""
