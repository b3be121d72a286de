"""What is derived from `measurements`: hourly aggregates and the reports."""
