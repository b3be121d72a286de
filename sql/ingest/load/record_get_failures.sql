-- Objects whose GET still failed after a run's retries: one more attempt counted, the error kept.
-- At %(max_attempts)s attempts the object becomes 'failed' with the last error as its reason;
-- before that it stays 'pending' and the sensor requests another run for its day.
UPDATE ingest_ledger AS ledger
SET attempts = ledger.attempts + 1,
    last_error = failure.error,
    last_attempt_at = now(),
    status = CASE WHEN ledger.attempts + 1 >= %(max_attempts)s THEN 'failed' ELSE 'pending' END,
    reason = CASE WHEN ledger.attempts + 1 >= %(max_attempts)s
                  THEN 'failed: GET failed in ' || (ledger.attempts + 1) || ' runs, last: ' || failure.error END,
    processed_at = CASE WHEN ledger.attempts + 1 >= %(max_attempts)s THEN now() ELSE ledger.processed_at END
FROM unnest(%(keys)s::text[], %(etags)s::text[], %(errors)s::text[]) AS failure(object_key, etag, error)
WHERE ledger.object_key = failure.object_key AND ledger.etag = failure.etag AND ledger.status = 'pending'
RETURNING ledger.status
