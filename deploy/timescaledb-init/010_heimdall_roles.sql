-- The login roles of the measurements database (docs/operating.md, "Database roles"), created by the
-- timescale/timescaledb container the first time it initialises an empty data directory (its
-- entrypoint runs /docker-entrypoint-initdb.d/*.sql with psql as the superuser, in POSTGRES_DB, after
-- its own 000_install_timescaledb.sh has created the extension there). Passwords come from the
-- container's environment (deploy/.env), never from this file. The grants on the tables are not
-- here: heimdall-migrate applies them after every migration, so they hold on any server.
\set ON_ERROR_STOP on

\getenv owner_password HEIMDALL_OWNER_PASSWORD
\getenv pipeline_password HEIMDALL_PIPELINE_PASSWORD
\getenv reader_password HEIMDALL_READER_PASSWORD
\getenv archiver_password HEIMDALL_ARCHIVER_PASSWORD
\getenv minio_events_password HEIMDALL_MINIO_EVENTS_PASSWORD

\if :{?owner_password}
\else
DO $$ BEGIN RAISE EXCEPTION 'HEIMDALL_OWNER_PASSWORD is not set in the TimescaleDB container'; END $$;
\endif
\if :{?pipeline_password}
\else
DO $$ BEGIN RAISE EXCEPTION 'HEIMDALL_PIPELINE_PASSWORD is not set in the TimescaleDB container'; END $$;
\endif
\if :{?reader_password}
\else
DO $$ BEGIN RAISE EXCEPTION 'HEIMDALL_READER_PASSWORD is not set in the TimescaleDB container'; END $$;
\endif
\if :{?archiver_password}
\else
DO $$ BEGIN RAISE EXCEPTION 'HEIMDALL_ARCHIVER_PASSWORD is not set in the TimescaleDB container'; END $$;
\endif
\if :{?minio_events_password}
\else
DO $$ BEGIN RAISE EXCEPTION 'HEIMDALL_MINIO_EVENTS_PASSWORD is not set in the TimescaleDB container'; END $$;
\endif

-- None is a superuser. The owner owns the database and so the public schema (PostgreSQL 15:
-- pg_database_owner) and runs the migrations (DDL); the pipeline role gets only the DML it needs,
-- the reader SELECT, both granted by heimdall-migrate.
CREATE ROLE heimdall_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'owner_password';
CREATE ROLE heimdall_pipeline LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'pipeline_password';
CREATE ROLE heimdall_reader LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'reader_password';
-- Retention (the code server's retention and restore runs): the pipeline's DML, and it alone writes
-- archive records and drops archived days. The pipeline role, whose URL Heimdall's workers share,
-- can therefore not drop a day through the archive guard.
CREATE ROLE heimdall_archiver LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'archiver_password';
-- MinIO's notification target (docs/discovery.md): heimdall-migrate grants it INSERT on s3_events only.
CREATE ROLE heimdall_minio LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'minio_events_password';

SELECT current_database() AS measurements_db \gset
ALTER DATABASE :"measurements_db" OWNER TO heimdall_owner;
REVOKE ALL ON DATABASE :"measurements_db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"measurements_db" TO heimdall_pipeline, heimdall_reader, heimdall_archiver, heimdall_minio;
