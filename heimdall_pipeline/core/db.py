"""Database connections and the SQL files under `sql/`."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

import psycopg

from heimdall_pipeline.core.settings import db_schema, redact, redact_url, search_path

# The repository's top-level sql/ is the one source; heimdall_pipeline/sql is a symlink to it, so
# the wheel carries the files as package data (heimdall_pipeline/sql/...) and an editable install
# reads the checkout's files. Resolved through importlib.resources, never relative to a checkout.
SQL_DIR: Traversable = files("heimdall_pipeline") / "sql"


class DatabaseConnectionError(psycopg.OperationalError):
    """The database could not be reached: one line, the URL's password masked."""


def connect(database_url: str, autocommit: bool = True, schema: str | None = None, **kwargs) -> psycopg.Connection:
    """A psycopg 3 connection (the load path relies on its binary COPY).

    Its search_path is `schema` (default: HEIMDALL_DB_SCHEMA, else public) then TimescaleDB's
    schema, set in the startup packet (libpq `options`), so every statement of the session,
    the first included, sees our tables and no SQL file names a schema.

    Autocommit by default, so `with conn.transaction():` blocks are real transactions that
    commit at their end, not savepoints inside an implicit transaction left open by a read.
    libpq's errors can quote the connection string (password included), so a failure to connect
    is raised again with the password masked and the original not chained.
    """
    schema = db_schema() if schema is None else schema
    try:
        from psycopg.conninfo import conninfo_to_dict

        given = kwargs.pop("options", None) or conninfo_to_dict(database_url).get("options") or ""
        options = f"{given} -c search_path={search_path(schema)}".strip()  # the last -c wins
        return psycopg.connect(database_url, autocommit=autocommit, options=options, **kwargs)
    except (psycopg.OperationalError, psycopg.ProgrammingError) as error:
        reason = " ".join(str(error).split())
        raise DatabaseConnectionError(f"cannot connect to {redact_url(database_url)}: {redact(reason, database_url)}") from None


@cache
def read_sql(relative_path: str) -> str:
    """The text of a file under `sql/`, e.g. `read_sql("analytics/reports/snr_trends.sql")`."""
    return SQL_DIR.joinpath(*relative_path.split("/")).read_text(encoding="utf-8")


def one_row(cursor: psycopg.Cursor) -> tuple[Any, ...]:
    """The one row a query always returns (an aggregate, INSERT ... RETURNING, a SELECT of now())."""
    row = cursor.fetchone()
    if row is None:
        raise RuntimeError("the query returned no row")
    return row


def scalar(cursor: psycopg.Cursor) -> Any:
    """The first column of that one row (count(*), now(), to_regclass(...))."""
    return one_row(cursor)[0]


def column_names(cursor: psycopg.Cursor) -> list[str]:
    """The result's column names, in order (after a query that returns rows)."""
    return [column.name for column in cursor.description or ()]
