"""Numbered SQL migrations from `sql/migrations/`, each applied once, in its own transaction.

File names: `NNNN_name.sql` applies to every TimescaleDB edition; `NNNN_name.<license>.sql`
applies only where `SHOW timescaledb.license` answers `<license>` (`timescale` is the Community
edition of the production images, `apache` the Apache-2 build). A migration for another edition
is not recorded, so it applies if the database later runs that edition.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
from dataclasses import dataclass
from importlib.resources.abc import Traversable

import psycopg

from heimdall_pipeline.db import SQL_DIR, connect

MIGRATIONS_DIR = SQL_DIR / "migrations"
EDITIONS = ("apache", "timescale")
_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+?)(?:\.(?P<edition>apache|timescale))?\.sql$")
# Two runners starting at once (parallel Dagster runs) must not both apply a migration.
_ADVISORY_LOCK_ID = 0x4E1D_A11


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    edition: str | None
    path: Traversable  # a pathlib.Path in an editable install or a test's tmp_path

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    def applies_to(self, edition: str) -> bool:
        return self.edition is None or self.edition == edition


def discover(directory: Traversable = MIGRATIONS_DIR) -> list[Migration]:
    migrations = []
    sql_files = [entry for entry in directory.iterdir() if entry.name.endswith(".sql") and entry.is_file()]
    for path in sorted(sql_files, key=lambda entry: entry.name):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_name[.apache|.timescale].sql")
        migrations.append(
            Migration(int(match["version"]), match["name"], match["edition"], path)
        )
    versions = [m.version for m in migrations]
    if len(versions) != len(set(versions)):
        raise MigrationError(f"two migration files share a version number in {directory}")
    return migrations


def ensure_timescaledb(conn: psycopg.Connection) -> str:
    """Create the extension if needed and return its edition (`apache` or `timescale`)."""
    available = conn.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
    ).fetchone()
    if not available:
        raise MigrationError(
            "the timescaledb extension is not installed on this PostgreSQL server. "
            "Locally, `make up` builds it (scripts/install_timescaledb.sh); elsewhere use the "
            "timescale/timescaledb image or install TimescaleDB for your PostgreSQL version, "
            "add it to shared_preload_libraries, and restart the server."
        )
    try:
        with conn.transaction():
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except psycopg.Error as error:
        raise MigrationError(
            f"CREATE EXTENSION timescaledb failed: {error}. TimescaleDB must be in "
            "shared_preload_libraries and the user needs the right to create extensions."
        ) from error
    edition = timescaledb_edition(conn)
    if edition not in EDITIONS:
        raise MigrationError(f"unknown timescaledb.license {edition!r}; expected one of {EDITIONS}")
    return edition


def migrate(database_url: str, directory: Traversable = MIGRATIONS_DIR) -> list[Migration]:
    """Apply the pending migrations; return those applied now (empty when up to date)."""
    migrations = discover(directory)
    with connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_ADVISORY_LOCK_ID,))
        try:
            return _apply_pending(conn, migrations)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_ADVISORY_LOCK_ID,))


def _apply_pending(conn: psycopg.Connection, migrations: list[Migration]) -> list[Migration]:
    edition = ensure_timescaledb(conn)
    conn.execute(
        """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            edition TEXT,
            checksum TEXT NOT NULL,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )
        """
    )
    applied = {
        version: (name, checksum)
        for version, name, checksum in conn.execute(
            "SELECT version, name, checksum FROM schema_migrations"
        )
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
        with conn.transaction():
            conn.execute(migration.path.read_text(encoding="utf-8"))
            conn.execute(
                "INSERT INTO schema_migrations (version, name, edition, checksum) VALUES (%s, %s, %s, %s)",
                (migration.version, migration.name, migration.edition, migration.checksum),
            )
        newly_applied.append(migration)
    return newly_applied


class SchemaBehindError(MigrationError):
    """The database lacks migrations this code needs; the runtime never applies them itself."""


def require_current_schema(conn: psycopg.Connection, directory: Path = MIGRATIONS_DIR) -> None:
    """Raise SchemaBehindError (one line: what to run) unless every migration of the database's
    edition is recorded in schema_migrations. Reads only: any role that can SELECT may call it."""
    with conn.transaction():  # a failed probe must not leave a caller's transaction aborted
        applied: set[int] = set()
        if conn.execute("SELECT to_regclass('schema_migrations')").fetchone()[0] is not None:
            applied = {version for (version,) in conn.execute("SELECT version FROM schema_migrations")}
        if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone():
            edition = timescaledb_edition(conn)
            needed = {m.version for m in discover(directory) if m.applies_to(edition)}
        else:
            needed = {m.version for m in discover(directory) if m.edition is None}
    if needed - applied:
        raise SchemaBehindError(
            f"schema is at {max(applied, default=0)}, code needs {max(needed)}: "
            "run heimdall-migrate (make migrate)"
        )


_current_schemas: set[str] = set()


def require_current_schema_once(conn: psycopg.Connection, database_url: str) -> None:
    """require_current_schema, remembered per URL for the life of the process once it passed."""
    if database_url not in _current_schemas:
        require_current_schema(conn)
        _current_schemas.add(database_url)


def timescaledb_edition(conn: psycopg.Connection) -> str:
    """`timescale` (Community, the production images) or `apache`."""
    return conn.execute("SHOW timescaledb.license").fetchone()[0]


def main(argv: list[str] | None = None) -> int:
    from heimdall_pipeline.db import DatabaseConnectionError
    from heimdall_pipeline.grants import apply_grants
    from heimdall_pipeline.settings import MigrateSettings, exit_on_config_error

    parser = argparse.ArgumentParser(
        description="Apply heimdall-pipeline's SQL migrations, then the pipeline and reader roles' grants."
    )
    parser.add_argument(
        "--database-url",
        help="libpq URL of the owner role (default: $HEIMDALL_MIGRATE_DATABASE_URL, else $HEIMDALL_DATABASE_URL)",
    )
    args = parser.parse_args(argv)
    environ = dict(os.environ)
    if args.database_url:
        environ["HEIMDALL_MIGRATE_DATABASE_URL"] = args.database_url
    with exit_on_config_error("heimdall-migrate"):
        settings = MigrateSettings.from_env(environ)
    database_url = settings.database_url
    try:
        applied = migrate(database_url)
        with connect(database_url) as conn:
            edition = timescaledb_edition(conn)
            grants = apply_grants(conn, settings.pipeline_role, settings.reader_role)
    except (MigrationError, DatabaseConnectionError) as error:
        print(f"heimdall-migrate: {error}", file=sys.stderr)
        return 1
    if applied:
        for migration in applied:
            print(f"applied {migration.path.name}")
    else:
        print("schema is up to date")
    print(f"timescaledb edition: {edition}")
    for role_grants in grants:
        print(f"grants: {role_grants.summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
