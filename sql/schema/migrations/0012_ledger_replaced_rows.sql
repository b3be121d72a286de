-- A new version of an object replaces the row its earlier version loaded ('updated'). When the new
-- version has another measurement time, the earlier row is deleted: replaced_timestamp_utc keeps
-- its time, so the hourly aggregates of that (other) day are refreshed too.
ALTER TABLE ingest_ledger ADD COLUMN replaced_timestamp_utc TIMESTAMPTZ;
