-- MinIO's PostgreSQL notification target (HEIMDALL_EVENTS_ROLE, docs/discovery.md): it checks that
-- s3_events exists (SELECT 1 FROM s3_events) and appends events to it. Nothing else.
GRANT CONNECT ON DATABASE {database} TO {role};
GRANT USAGE ON SCHEMA {schema} TO {role};
GRANT SELECT, INSERT ON {schema}.s3_events TO {role};
GRANT USAGE ON SEQUENCE {schema}.s3_events_id_seq TO {role};
