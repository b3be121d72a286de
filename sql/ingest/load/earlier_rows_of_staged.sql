-- For the staged objects, the row each one's earlier version loaded, as the ledger remembers it
-- (not for 'present' or 'conflict': that row is another's). Usually none. One primary-key probe per staged
-- object (OFFSET 0 keeps the planner from turning this into a scan of the whole ledger).
SELECT s.object_key, earlier.task_id, earlier.websdr_id, earlier.timestamp_utc
FROM measurements_staging s
CROSS JOIN LATERAL (
    SELECT l.task_id, l.websdr_id, l.timestamp_utc
    FROM ingest_ledger l
    WHERE l.object_key = s.object_key AND l.task_id IS NOT NULL AND l.status NOT IN ('present', 'conflict')
    OFFSET 0
) AS earlier
