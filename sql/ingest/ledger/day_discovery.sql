-- Objects uploaded in [start, end) by who recorded their current version: notifications or the listing.
SELECT listed_by, count(*) FROM ingest_ledger
WHERE last_modified >= %(start)s AND last_modified < %(end)s
GROUP BY listed_by
