-- Chunks lying wholly inside the UTC day. With the 1-day chunks of migration 0001 (aligned to
-- UTC midnight) that is exactly the day; delete_day_rows.sql then clears any partial chunk.
-- drop_chunks needs the hypertable's owner: the owner's SECURITY DEFINER function of migration
-- 0008 does it, and only for a day with an archive record.
SELECT drop_archived_day_chunks(%(day)s)
