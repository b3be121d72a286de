"""The privileges of the pipeline and reader roles, (re)applied by heimdall-migrate after the migrations.

Run as the owner of the schema (the role that ran the migrations). Idempotent: every run grants
again on every table, so a table a new migration created is covered at once, and ALTER DEFAULT
PRIVILEGES covers tables created later by the same owner. A role that does not exist is skipped
with a line saying so (single-role setups work unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from heimdall_pipeline.core.db import read_sql, scalar
from heimdall_pipeline.core.settings import db_schema


@dataclass(frozen=True)
class RoleGrants:
    role: str
    granted: bool
    summary: str  # one line: what the role now holds, or why nothing was granted


def apply_grants(
    conn: psycopg.Connection,
    pipeline_role: str,
    reader_role: str,
    schema: str | None = None,
    events_role: str | None = None,
    archiver_role: str | None = None,
) -> list[RoleGrants]:
    """Grant the pipeline role its DML and the reader role SELECT on the tables of `schema`
    (default HEIMDALL_DB_SCHEMA, else public), and USAGE on it; one RoleGrants per role. With
    `events_role` (MinIO's notification target), INSERT into s3_events and nothing else.
    With an existing `archiver_role` (retention), that role gets the pipeline's DML, and it alone
    writes the archive records and may call drop_archived_day_chunks: the pipeline role keeps
    SELECT on them. Only that schema: another application's tables beside ours are not ours to grant."""
    schema = db_schema() if schema is None else schema
    archiver = archiver_role if archiver_role and archiver_role != pipeline_role and _exists(conn, archiver_role) else None
    grants = [
        _grant(
            conn,
            pipeline_role,
            "schema/grants/pipeline.sql",
            schema,
            functions=True,
            read_only_owner_tables=True,
            without_archives=archiver is not None,
        ),
        _grant(conn, reader_role, "schema/grants/reader.sql", schema, functions=False),
    ]
    if archiver:
        grants.append(_grant(conn, archiver, "schema/grants/pipeline.sql", schema, functions=True, read_only_owner_tables=True))
    if events_role:
        grants.append(_grant(conn, events_role, "schema/grants/events.sql", schema, functions=False))
    return grants


def _exists(conn: psycopg.Connection, role: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is not None


def _grant(
    conn: psycopg.Connection,
    role: str,
    sql_file: str,
    schema: str,
    functions: bool,
    read_only_owner_tables: bool = False,
    without_archives: bool = False,
) -> RoleGrants:
    """Role names are identifiers (sql.Identifier), never pasted into SQL text or literals."""
    if not _exists(conn, role):
        return RoleGrants(role, False, f"{role}: no such role, nothing granted (docs/operating.md, 'Database roles')")
    if role == conn.info.user:
        return RoleGrants(role, False, f"{role}: is the migrating role itself (owner), nothing to grant")
    database = scalar(conn.execute("SELECT current_database()"))
    statements = sql.SQL(read_sql(sql_file)).format(
        role=sql.Identifier(role), database=sql.Identifier(database), schema=sql.Identifier(schema)
    )
    executed = []
    with conn.transaction():
        conn.execute(statements)
        if read_only_owner_tables:
            for (table,) in conn.execute(read_sql("schema/grants/owner_tables.sql"), {"schema": schema}).fetchall():
                conn.execute(
                    sql.SQL("REVOKE INSERT, UPDATE, DELETE ON {} FROM {}").format(
                        sql.Identifier(schema, table), sql.Identifier(role)
                    )
                )
        if without_archives:
            for (table,) in conn.execute(read_sql("schema/grants/archive_tables.sql"), {"schema": schema}).fetchall():
                conn.execute(
                    sql.SQL("REVOKE INSERT, UPDATE, DELETE ON {} FROM {}").format(
                        sql.Identifier(schema, table), sql.Identifier(role)
                    )
                )
        if functions:
            for (function,) in conn.execute(read_sql("schema/grants/own_functions.sql"), {"schema": schema}).fetchall():
                grant = not (without_archives and function.split("(")[0].split(".")[-1] == "drop_archived_day_chunks")
                statement = "GRANT EXECUTE ON FUNCTION {} TO {}" if grant else "REVOKE EXECUTE ON FUNCTION {} FROM {}"
                conn.execute(sql.SQL(statement).format(sql.SQL(function), sql.Identifier(role)))
                if grant:
                    executed.append(function)
    held = conn.execute(read_sql("schema/grants/granted_tables.sql"), {"role": role, "schema": schema}).fetchall()
    by_privileges: dict[str, list[str]] = {}
    for table, privileges in held:
        by_privileges.setdefault("/".join(privileges) or "none", []).append(table)
    parts = [f"{privileges} on {', '.join(tables)}" for privileges, tables in by_privileges.items()]
    if functions:
        parts.append(f"EXECUTE on {', '.join(executed) or 'no functions'}; sequences; TEMPORARY")
    return RoleGrants(role, True, f"{role}: " + "; ".join(parts))
