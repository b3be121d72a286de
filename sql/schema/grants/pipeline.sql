-- The runtime pipeline role (HEIMDALL_PIPELINE_ROLE): the DML the pipeline needs and nothing that
-- changes the schema. Placeholders are filled in as quoted identifiers by heimdall_pipeline.schema.grants.
-- TEMPORARY: the loader's per-session staging tables. Advisory locks need no privilege.
GRANT CONNECT, TEMPORARY ON DATABASE {database} TO {role};
GRANT USAGE ON SCHEMA {schema} TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role};
-- The migration record and the receiver list are the owner's to change (heimdall-migrate,
-- heimdall-stations sync): the pipeline only reads which station an id meant when. Each table
-- only if it exists in our schema (the receiver list's tables come with migration 0016), looked
-- up by its qualified name so that Heimdall's own tables in public are never touched.
DO $$
DECLARE
    owners_table TEXT;
BEGIN
    FOREACH owners_table IN ARRAY ARRAY['schema_migrations', 'websdr_stations', 'websdr_station_versions', 'websdr_station_changes'] LOOP
        IF to_regclass(format('%s.%I', '{schema}', owners_table)) IS NOT NULL THEN
            EXECUTE format('REVOKE INSERT, UPDATE, DELETE ON %s.%I FROM %s', '{schema}', owners_table, '{role}');
        END IF;
    END LOOP;
END
$$;
-- measurements.id is a BIGSERIAL.
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role};
-- Whatever later migrations create (run by this same owner) is covered too.
ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role};
ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO {role};
ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT EXECUTE ON FUNCTIONS TO {role};
