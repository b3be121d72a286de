-- The newest metadata object in ingest_ledger by its upload time (the object's LastModified), and
-- the database's clock: one row, the object's columns NULL while the ledger is empty. Served by
-- idx_ingest_ledger_last_modified (one index probe, whatever the ledger's size).
SELECT now() AS checked_at, newest.object_key, newest.last_modified, newest.listed_at
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (
    SELECT object_key, last_modified, listed_at
    FROM ingest_ledger
    ORDER BY last_modified DESC
    LIMIT 1
) AS newest ON TRUE;
