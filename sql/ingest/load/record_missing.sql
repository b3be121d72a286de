-- Objects whose GET answered NoSuchKey (deleted after the listing) become 'missing', with the reason.
-- Only the version that was listed: a newer listing may have recorded a new ETag meanwhile.
-- A later listing that finds the object again makes it 'pending' again (record_listed.sql).
UPDATE ingest_ledger AS ledger
SET status = 'missing',
    reason = gone.reason,
    last_error = NULL,
    last_attempt_at = now(),
    processed_at = now()
FROM unnest(%(keys)s::text[], %(etags)s::text[], %(reasons)s::text[]) AS gone(object_key, etag, reason)
WHERE ledger.object_key = gone.object_key AND ledger.etag = gone.etag AND ledger.status = 'pending'
