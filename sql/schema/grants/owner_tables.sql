-- The tables of our schema only the owner changes, among those that exist (the receiver list's
-- come with migration 0016), looked up by qualified name so that Heimdall's tables are never touched.
SELECT t.name
FROM unnest(ARRAY['schema_migrations', 'websdr_stations', 'websdr_station_versions', 'websdr_station_changes']) AS t(name)
WHERE to_regclass(format('%%I.%%I', %(schema)s::text, t.name)) IS NOT NULL
