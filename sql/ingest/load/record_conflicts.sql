-- Objects whose key found a stored row with other values: 'conflict', with the reason naming the
-- columns that differ. The stored row is left as it is (see docs/integrating.md: "already present, or a conflict").
UPDATE ingest_ledger AS ledger
SET status = 'conflict', reason = conflict.reason
FROM unnest(%(keys)s::text[], %(reasons)s::text[]) AS conflict(object_key, reason)
WHERE ledger.object_key = conflict.object_key AND ledger.status = 'present'
