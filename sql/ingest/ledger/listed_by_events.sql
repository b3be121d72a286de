-- Entries the notification consumer recorded (new or changed) in (since, until]: the sensor requests
-- a run for each of their upload days. O(new entries): idx_ingest_ledger_listed_by_events.
SELECT object_key, etag, size_bytes, last_modified
FROM ingest_ledger
WHERE listed_by = 'events' AND listed_at > %(since)s AND listed_at <= %(until)s
