-- The runtime pipeline role (HEIMDALL_PIPELINE_ROLE): the DML the pipeline needs and nothing that
-- changes the schema. Placeholders are filled in as quoted identifiers by heimdall_pipeline.grants.
-- TEMPORARY: the loader's per-session staging tables. Advisory locks need no privilege.
GRANT CONNECT, TEMPORARY ON DATABASE {database} TO {role};
GRANT USAGE ON SCHEMA public TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};
-- The migration record and the receivers are the owner's to change.
REVOKE INSERT, UPDATE, DELETE ON schema_migrations, websdr_stations FROM {role};
-- measurements.id is a BIGSERIAL.
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role};
-- Whatever later migrations create (run by this same owner) is covered too.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role};
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {role};
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO {role};
