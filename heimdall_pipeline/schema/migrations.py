"""Numbered SQL migrations from `sql/schema/migrations/`, each applied once, in its own transaction.

File names: `NNNN_name.sql` applies to every TimescaleDB edition; `NNNN_name.<license>.sql`
applies only where `SHOW timescaledb.license` answers `<license>` (`timescale` is the Community
edition of the production images, `apache` the Apache-2 build). A migration for another edition
is not recorded, so it applies if the database later runs that edition.

Everything lives in the schema HEIMDALL_DB_SCHEMA (default public): the runner creates it, runs
each migration with search_path `<schema>, public, pg_temp` (migrations never name a schema, so
they create our objects there; a SECURITY DEFINER function takes `SET search_path FROM CURRENT`,
which captures exactly that, pg_temp last) and keeps its record, schema_migrations, there too.
A `measurements` table in that schema that our record does not account for is never touched: the
runner stops and describes it (heimdall_pipeline.schema.adoption, `--adopt-measurements`).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from importlib.resources.abc import Traversable

import psycopg
from psycopg import sql

from heimdall_pipeline.core.db import SQL_DIR, connect, scalar
from heimdall_pipeline.core.settings import TIMESCALEDB_SCHEMA, db_schema, search_path
from heimdall_pipeline.schema.adoption import adopt_measurements as adopt
from heimdall_pipeline.schema.adoption import foreign_measurements
from heimdall_pipeline.schema.migration_record import (  # MigrationError and Migration are this module's API too
    Migration,
    MigrationError,
    create_ledger,
    ledger,
    record_applied,
)

MIGRATIONS_DIR = SQL_DIR / "schema" / "migrations"
EDITIONS = ("apache", "timescale")
_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+?)(?:\.(?P<edition>apache|timescale))?\.sql$")
# Two runners starting at once (parallel Dagster runs) must not both apply a migration.
_ADVISORY_LOCK_ID = 0x4E1D_A11


def discover(directory: Traversable = MIGRATIONS_DIR) -> list[Migration]:
    migrations = []
    sql_files = [entry for entry in directory.iterdir() if entry.name.endswith(".sql") and entry.is_file()]
    for path in sorted(sql_files, key=lambda entry: entry.name):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_name[.apache|.timescale].sql")
        migrations.append(Migration(int(match["version"]), match["name"], match["edition"], path))
    versions = [m.version for m in migrations]
    if len(versions) != len(set(versions)):
        raise MigrationError(f"two migration files share a version number in {directory}")
    return migrations


def ensure_timescaledb(conn: psycopg.Connection) -> str:
    """Create the extension if needed and return its edition (`apache` or `timescale`)."""
    available = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'").fetchone()
    if not available:
        raise MigrationError(
            "the timescaledb extension is not installed on this PostgreSQL server. "
            "Locally, `make up` builds it (scripts/install_timescaledb.sh); elsewhere use the "
            "timescale/timescaledb image or install TimescaleDB for your PostgreSQL version, "
            "add it to shared_preload_libraries, and restart the server."
        )
    try:
        with conn.transaction():
            # Named: the session's first schema may be ours, and the functions must stay where
            # every role's search_path finds them.
            conn.execute(
                sql.SQL("CREATE EXTENSION IF NOT EXISTS timescaledb SCHEMA {}").format(sql.Identifier(TIMESCALEDB_SCHEMA))
            )
    except psycopg.Error as error:
        raise MigrationError(
            f"CREATE EXTENSION timescaledb failed: {error}. TimescaleDB must be in "
            "shared_preload_libraries and the user needs the right to create extensions."
        ) from error
    edition = timescaledb_edition(conn)
    if edition not in EDITIONS:
        raise MigrationError(f"unknown timescaledb.license {edition!r}; expected one of {EDITIONS}")
    extension_schema = scalar(
        conn.execute("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'timescaledb'")
    )
    if extension_schema != TIMESCALEDB_SCHEMA:
        raise MigrationError(
            f"the timescaledb extension is in schema {extension_schema}; heimdall-pipeline's connections "
            f"search {TIMESCALEDB_SCHEMA} for its functions (time_bucket, create_hypertable): "
            f"install it in {TIMESCALEDB_SCHEMA} (CREATE EXTENSION timescaledb SCHEMA {TIMESCALEDB_SCHEMA})"
        )
    return edition


def migrate(
    database_url: str,
    directory: Traversable = MIGRATIONS_DIR,
    schema: str | None = None,
    adopt_measurements: bool = False,
    on_adopted=None,
) -> list[Migration]:
    """Apply the pending migrations in `schema` (default HEIMDALL_DB_SCHEMA, else public); return
    those applied now (empty when up to date). With adopt_measurements, a foreign `measurements`
    table with the seed's columns is first made ours (heimdall_pipeline.schema.adoption) and recorded as 0001."""
    schema = db_schema() if schema is None else schema
    migrations = discover(directory)
    with connect(database_url, autocommit=True, schema=schema) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_ADVISORY_LOCK_ID,))
        try:
            edition = prepare_schema(conn, schema)
            foreign = foreign_measurements(conn, schema, migrations)
            if foreign is not None and not adopt_measurements:
                raise MigrationError(foreign.refusal())  # before our record exists: nothing changed
            if foreign is None:
                create_ledger(conn, schema)
            else:
                # One transaction: a refused adoption leaves no schema_migrations behind either.
                with conn.transaction():
                    create_ledger(conn, schema)
                    adoption = adopt(conn, schema, foreign, migrations)
                if on_adopted is not None:
                    on_adopted(adoption)
            return _apply_pending(conn, schema, edition, migrations)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_ADVISORY_LOCK_ID,))


def prepare_schema(conn: psycopg.Connection, schema: str) -> str:
    """The extension and our schema exist, and this session creates in our schema with pg_temp
    searched last (what `SET search_path FROM CURRENT` captures); the edition."""
    edition = ensure_timescaledb(conn)
    exists = scalar(conn.execute("SELECT to_regnamespace(%s) IS NOT NULL", (f'"{schema}"',)))
    try:
        if not exists:  # asked only then: CREATE SCHEMA needs CREATE on the database even when it exists
            with conn.transaction():
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    except psycopg.errors.InsufficientPrivilege as error:
        raise MigrationError(
            f"cannot create schema {schema} ({' '.join(str(error).split())}): create it once as an admin, "
            f"CREATE SCHEMA {schema} AUTHORIZATION <owner role>, or GRANT CREATE ON DATABASE to the owner role"
        ) from None
    conn.execute(f"SET search_path = {search_path(schema)}, pg_temp")
    current = scalar(conn.execute("SELECT current_schema()"))
    if current != schema:  # e.g. no USAGE on it: CREATE would land in the next schema of the path
        raise MigrationError(
            f"this role cannot use schema {schema} (it creates in {current}); grant it USAGE, CREATE on {schema}"
        )
    return edition


def _apply_pending(conn: psycopg.Connection, schema: str, edition: str, migrations: list[Migration]) -> list[Migration]:
    applied = {
        version: (name, checksum)
        for version, name, checksum in conn.execute(sql.SQL("SELECT version, name, checksum FROM {}").format(ledger(schema)))
    }
    newly_applied = []
    for migration in migrations:
        if migration.version in applied:
            name, checksum = applied[migration.version]
            if checksum != migration.checksum:
                raise MigrationError(
                    f"migration {migration.path.name} changed after it was applied "
                    f"(recorded checksum {checksum[:12]}…, file now {migration.checksum[:12]}…). "
                    "Applied migrations are immutable: restore the file and add a new migration."
                )
            continue
        if not migration.applies_to(edition):
            continue
        try:
            with conn.transaction():
                conn.execute(migration.path.read_text(encoding="utf-8"))
                record_applied(conn, schema, migration)
        except psycopg.errors.DuplicateTable as error:
            raise MigrationError(
                f"{migration.path.name}: {' '.join(str(error).split())} in schema {schema}, and it is not "
                f"ours (no migration recorded it): another application's table? Set HEIMDALL_DB_SCHEMA "
                "to a schema of its own for heimdall-pipeline (README, 'Beside Heimdall's database')"
            ) from error
        newly_applied.append(migration)
    return newly_applied


class SchemaBehindError(MigrationError):
    """The database lacks migrations this code needs; the runtime never applies them itself."""


def require_current_schema(conn: psycopg.Connection, directory: Traversable = MIGRATIONS_DIR, schema: str | None = None) -> None:
    """Raise SchemaBehindError (one line: what to run) unless every migration of the database's
    edition is recorded in `schema`'s schema_migrations (default HEIMDALL_DB_SCHEMA). Reads only:
    any role that can SELECT may call it. Qualified, so a schema not migrated yet never passes on
    the strength of another schema's record; once it passes, every table our SQL names exists in
    our schema, so no bare name falls through the search_path to another application's table."""
    schema = db_schema() if schema is None else schema
    with conn.transaction():  # a failed probe must not leave a caller's transaction aborted
        applied: set[int] = set()
        if scalar(conn.execute("SELECT to_regclass(%s)", (f'"{schema}".schema_migrations',))) is not None:
            applied = {version for (version,) in conn.execute(sql.SQL("SELECT version FROM {}").format(ledger(schema)))}
        if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone():
            edition = timescaledb_edition(conn)
            needed = {m.version for m in discover(directory) if m.applies_to(edition)}
        else:
            needed = {m.version for m in discover(directory) if m.edition is None}
    if needed - applied:
        raise SchemaBehindError(
            f"schema {schema} is at {max(applied, default=0)}, code needs {max(needed)}: run heimdall-migrate (make migrate)"
        )


_current_schemas: set[tuple[str, str]] = set()


def require_current_schema_once(conn: psycopg.Connection, database_url: str, schema: str | None = None) -> None:
    """require_current_schema, remembered per (URL, schema) for the life of the process once it passed."""
    schema = db_schema() if schema is None else schema
    if (database_url, schema) not in _current_schemas:
        require_current_schema(conn, schema=schema)
        _current_schemas.add((database_url, schema))


def timescaledb_edition(conn: psycopg.Connection) -> str:
    """`timescale` (Community, the production images) or `apache`."""
    return scalar(conn.execute("SHOW timescaledb.license"))


def main(argv: list[str] | None = None) -> int:
    from heimdall_pipeline.core.db import DatabaseConnectionError
    from heimdall_pipeline.core.settings import MigrateSettings, exit_on_config_error
    from heimdall_pipeline.schema.grants import apply_grants

    parser = argparse.ArgumentParser(
        description="Apply heimdall-pipeline's SQL migrations, then the pipeline and reader roles' grants."
    )
    parser.add_argument(
        "--database-url",
        help="libpq URL of the owner role (default: $HEIMDALL_MIGRATE_DATABASE_URL, else $HEIMDALL_DATABASE_URL)",
    )
    parser.add_argument(
        "--adopt-measurements",
        action="store_true",
        help="make an existing `measurements` table with the seed's columns ours (primary key, hypertable, "
        "indexes; colliding rows set aside, none deleted), then migrate (docs/integrating.md, 'Beside Heimdall's database')",
    )
    args = parser.parse_args(argv)
    environ = dict(os.environ)
    if args.database_url:
        environ["HEIMDALL_MIGRATE_DATABASE_URL"] = args.database_url
    with exit_on_config_error("heimdall-migrate"):
        settings = MigrateSettings.from_env(environ)
    database_url = settings.database_url
    try:
        applied = migrate(
            database_url,
            schema=settings.db_schema,
            adopt_measurements=args.adopt_measurements,
            on_adopted=lambda adoption: print(adoption.summary),
        )
        with connect(database_url, schema=settings.db_schema) as conn:
            edition = timescaledb_edition(conn)
            grants = apply_grants(
                conn,
                settings.pipeline_role,
                settings.reader_role,
                settings.db_schema,
                settings.events_role,
                archiver_role=settings.archiver_role,
            )
    except (MigrationError, DatabaseConnectionError) as error:
        print(f"heimdall-migrate: {error}", file=sys.stderr)
        return 1
    except psycopg.errors.InsufficientPrivilege as error:
        # E.g. the pipeline role's URL: one line naming the setting, not a traceback.
        detail = " ".join(str(error).split())[:200]
        print(
            f"heimdall-migrate: this role may not change the schema ({detail}): set HEIMDALL_MIGRATE_DATABASE_URL "
            "to the owner role's URL (docs/operating.md, 'Database roles')",
            file=sys.stderr,
        )
        return 1
    if applied:
        for migration in applied:
            print(f"applied {migration.path.name}")
    else:
        print("schema is up to date")
    print(f"schema: {settings.db_schema}")
    print(f"timescaledb edition: {edition}")
    for role_grants in grants:
        print(f"grants: {role_grants.summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
