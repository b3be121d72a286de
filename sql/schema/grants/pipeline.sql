-- The runtime pipeline role (HEIMDALL_PIPELINE_ROLE): the DML the pipeline needs and nothing that
-- changes the schema. Placeholders are filled in as quoted identifiers by heimdall_pipeline.schema.grants.
-- TEMPORARY: the loader's per-session staging tables. Advisory locks need no privilege.
GRANT CONNECT, TEMPORARY ON DATABASE {database} TO {role};
GRANT USAGE ON SCHEMA {schema} TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role};
-- The migration record and the receiver list are the owner's to change (heimdall-migrate,
-- heimdall-stations sync): the pipeline only reads them. heimdall_pipeline.schema.grants revokes
-- INSERT, UPDATE, DELETE on each of them that exists (owner_tables.sql), names quoted as identifiers.
-- measurements.id is a BIGSERIAL.
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role};
-- Whatever later migrations create (run by this same owner) is covered too.
ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role};
ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO {role};
ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT EXECUTE ON FUNCTIONS TO {role};
