"""Database connections and the SQL files under `sql/`."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import psycopg

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


def connect(database_url: str, autocommit: bool = True, **kwargs) -> psycopg.Connection:
    """A psycopg 3 connection (the load path relies on its binary COPY).

    Autocommit by default, so `with conn.transaction():` blocks are real transactions that
    commit at their end, not savepoints inside an implicit transaction left open by a read.
    """
    return psycopg.connect(database_url, autocommit=autocommit, **kwargs)


@cache
def read_sql(relative_path: str) -> str:
    """The text of a file under `sql/`, e.g. `read_sql("queries/snr_trends.sql")`."""
    return (SQL_DIR / relative_path).read_text(encoding="utf-8")
