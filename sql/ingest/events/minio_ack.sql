-- Forget notifications once the ledger has committed what they say.
DELETE FROM s3_events WHERE id = ANY(%(ids)s::bigint[])
