-- Chunks lying wholly inside [start, end). With the 1-day chunks of migration 0001 (aligned to
-- UTC midnight) that is exactly the day; delete_day_rows.sql then clears any partial chunk.
SELECT count(*) FROM drop_chunks('measurements', older_than => %(end)s::timestamptz, newer_than => %(start)s::timestamptz)
