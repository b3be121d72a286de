-- The archive records and the function that drops archived days: the archiver role's alone when
-- it exists (HEIMDALL_ARCHIVER_ROLE). Retention trusts these records to drop a day, so the pipeline
-- role, whose URL Heimdall's workers share, may read them but never write one.
SELECT t.name
FROM unnest(ARRAY['measurement_archives', 'measurement_archive_writes']) AS t(name)
WHERE to_regclass(format('%%I.%%I', %(schema)s::text, t.name)) IS NOT NULL
