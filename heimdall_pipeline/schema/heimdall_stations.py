"""Heimdall's own receiver table, `heimdall.websdr_stations` (UUID `id`, `name`, coordinates,
`is_active`, ...), read the way Heimdall reads it, over a read-only connection.

Heimdall numbers its receivers by enumerating its active stations ordered by name
(`get_active_websdrs()` in storage/db_manager.py, `get_websdrs_config()` in routers/acquisition.py,
since fulgidus/heimdall 19a828a of 2025-10-27). The ordering runs in Heimdall's database, so its
collation decides, as it does for Heimdall. `heimdall-stations sync --from-heimdall-db` turns the
rows into the station list (heimdall_pipeline.schema.stations).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from heimdall_pipeline.core.db import connect, read_sql

HEIMDALL_TABLE = "heimdall.websdr_stations"
# What Heimdall's numbering reads; anything else the table lacks takes Heimdall's default.
REQUIRED_COLUMNS = ("id", "name", "url", "latitude", "longitude", "is_active")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")
CONNECT_TIMEOUT_SECONDS = 10


class HeimdallTableError(ValueError):
    """Heimdall's table cannot be read as its station list: one line naming the table and database."""


@dataclass(frozen=True)
class HeimdallStations:
    source: str  # "<table> at host:port/database": no user, no password (it goes to the change log)
    rows: list[dict]  # every column of every row; the active ones first, in Heimdall's order


def split_table_name(text: str) -> tuple[str, str]:
    """`schema.table` as two identifiers (plain names only: they are quoted, never pasted)."""
    parts = text.split(".")
    if len(parts) != 2 or not all(_IDENTIFIER.match(part) for part in parts):
        raise HeimdallTableError(f"{text[:100]!r} is not a schema.table name, e.g. {HEIMDALL_TABLE}")
    return parts[0], parts[1]


def describe_database(database_url: str) -> str:
    """host:port/database of a URL, for messages and the change log."""
    params = conninfo_to_dict(database_url)
    return f"{params.get('host') or 'localhost'}:{params.get('port') or 5432}/{params.get('dbname') or '?'}"


def heimdall_connection(database_url: str) -> psycopg.Connection:
    """A connection to Heimdall's database that cannot write: read-only by the session's default,
    and each transaction BEGINs READ ONLY."""
    conn = connect(database_url, options="-c default_transaction_read_only=on", connect_timeout=CONNECT_TIMEOUT_SECONDS)
    conn.read_only = True
    return conn


def read_heimdall_stations(database_url: str, table: str = HEIMDALL_TABLE, limit: int = 1_000) -> HeimdallStations:
    """Every row of Heimdall's station table, active ones first in Heimdall's numbering order."""
    schema, name = split_table_name(table)
    source = f"{table} at {describe_database(database_url)}"
    query = sql.SQL(read_sql("schema/stations/heimdall_websdr_stations.sql")).format(table=sql.Identifier(schema, name))
    with heimdall_connection(database_url) as conn:
        try:
            with conn.transaction():
                rows = [row for (row,) in conn.execute(query, {"limit": limit + 1})]
        except (
            psycopg.errors.UndefinedTable,
            psycopg.errors.UndefinedColumn,
            psycopg.errors.InvalidSchemaName,
            psycopg.errors.InsufficientPrivilege,
        ) as error:
            reason = " ".join(str(error).split()).split(" LINE ")[0]
            raise HeimdallTableError(f"{source}: {reason}") from None
    if len(rows) > limit:
        raise HeimdallTableError(f"{source}: more than {limit:,} stations")
    for row in rows:
        missing = [column for column in REQUIRED_COLUMNS if column not in row]
        if missing:
            raise HeimdallTableError(f"{source}: no column {', '.join(missing)}: not Heimdall's websdr_stations layout")
    return HeimdallStations(source, rows)
