"""Database connections and the SQL files under `sql/`."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import psycopg

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


def connect(database_url: str, **kwargs) -> psycopg.Connection:
    """A psycopg 3 connection; the load path relies on its binary COPY."""
    return psycopg.connect(database_url, **kwargs)


@cache
def read_sql(relative_path: str) -> str:
    """The text of a file under `sql/`, e.g. `read_sql("queries/snr_trends.sql")`."""
    return (SQL_DIR / relative_path).read_text(encoding="utf-8")
