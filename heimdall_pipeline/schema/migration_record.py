"""The migration record (`<schema>.schema_migrations`): what a migration is, and how one is recorded.

Shared by the runner (migrations) and the adoption of an existing table (adoption), which
records migration 0001 as applied when it makes a foreign `measurements` ours.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib.resources.abc import Traversable

import psycopg
from psycopg import sql


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


def ledger(schema: str) -> sql.Composed:
    """The migration record, qualified: a bare name could fall through the search_path to public."""
    return sql.SQL("{}.schema_migrations").format(sql.Identifier(schema))


def create_ledger(conn: psycopg.Connection, schema: str) -> None:
    conn.execute(
        sql.SQL(
            """
            CREATE TABLE IF NOT EXISTS {} (
                version INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                edition TEXT,
                checksum TEXT NOT NULL,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )
            """
        ).format(ledger(schema))
    )


def record_applied(conn: psycopg.Connection, schema: str, migration: Migration) -> None:
    conn.execute(
        sql.SQL("INSERT INTO {} (version, name, edition, checksum) VALUES (%s, %s, %s, %s)").format(ledger(schema)),
        (migration.version, migration.name, migration.edition, migration.checksum),
    )
