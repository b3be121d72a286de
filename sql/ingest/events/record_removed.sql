-- A removal event marks the object's entry 'missing', unless the ledger holds a version uploaded
-- after the removal (events arrive out of order: a delete, then a new upload, may come reversed).
-- An entry already missing keeps its first reason. The rows it loaded stay in measurements.
UPDATE ingest_ledger AS ledger
SET status = 'missing',
    reason = 'missing: an ObjectRemoved event at ' || to_char(removed.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
             || ' says the object was deleted',
    last_error = NULL,
    processed_at = now()
FROM unnest(%(keys)s::text[], %(times)s::timestamptz[]) AS removed(object_key, at)
WHERE ledger.object_key = removed.object_key
  AND ledger.last_modified <= removed.at
  AND ledger.status <> 'missing'
