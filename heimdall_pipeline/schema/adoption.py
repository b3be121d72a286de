"""A `measurements` table this project did not create, found in our schema (HEIMDALL_DB_SCHEMA).

Heimdall's backend defines its own `measurements` (a SQLAlchemy model, primary key `id`), and its
seed script creates the one our migration 0001 copies. Either may already sit where heimdall-migrate
is pointed. The runner never changes such a table on its own: `foreign_measurements` describes it
(columns, primary key, hypertable or not, rows) and the runner stops with that description and the
two ways on. `adopt_measurements` (heimdall-migrate --adopt-measurements) is the second way: when
the table has the seed's columns it becomes exactly what 0001 would have made, every row kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from heimdall_pipeline.core.db import scalar
from heimdall_pipeline.schema.migration_record import MigrationError, record_applied

# 0001's columns and their types (format_type), the loader writes all of them but `id`.
SEED_COLUMNS: dict[str, str] = {
    "id": "bigint",
    "task_id": "text",
    "websdr_id": "integer",
    "frequency_mhz": "double precision",
    "sample_rate_khz": "double precision",
    "samples_count": "integer",
    "timestamp_utc": "timestamp with time zone",
    "snr_db": "double precision",
    "frequency_offset_hz": "double precision",
    "power_dbm": "double precision",
    "s3_path": "text",
}
PRIMARY_KEY = ("task_id", "websdr_id", "timestamp_utc")
# 0001's indexes, created when missing (the seed's names).
SEED_INDEXES = {
    "idx_measurements_websdr_time": "(websdr_id, timestamp_utc DESC)",
    "idx_measurements_task_time": "(task_id, timestamp_utc DESC)",
    "idx_measurements_frequency": "(frequency_mhz, timestamp_utc DESC)",
}
# Rows adoption cannot keep in `measurements` (a second row of one key, a key with a NULL) are
# moved here, never deleted: every column as it was, plus why and when.
SET_ASIDE_TABLE = "measurements_set_aside"


@dataclass(frozen=True)
class ForeignMeasurements:
    schema: str
    columns: list[tuple[str, str, bool]]  # name, type, nullable (table order)
    primary_key: list[str]
    hypertable_dimension: str | None  # the time column if it is a hypertable
    row_count: int
    referenced_by: list[str]  # foreign keys of other tables that point at it

    @property
    def missing(self) -> list[str]:
        """Seed columns it lacks or has with another type (`name type`, what adoption needs).
        A varchar where the seed has text counts as present: adoption widens it to text."""
        have = {name: type_ for name, type_, _ in self.columns}
        return [
            f"{name} {type_}" for name, type_ in SEED_COLUMNS.items() if name != "id" and not _same_type(have.get(name), type_)
        ]

    @property
    def to_widen(self) -> list[str]:
        """Columns that are varchar where the seed has text."""
        return [name for name, type_, _ in self.columns if SEED_COLUMNS.get(name) == "text" and type_ != "text"]

    @property
    def extra_required(self) -> list[str]:
        """Columns beyond the seed's that are NOT NULL: the loader, which writes the seed's, would fail."""
        return [name for name, _, nullable in self.columns if name not in SEED_COLUMNS and not nullable]

    def adoptable(self) -> str | None:
        """None when adoption can proceed, else why not (one sentence)."""
        if self.missing:
            return f"it lacks the seed's columns {', '.join(self.missing)}"
        if self.extra_required:
            return f"its columns {', '.join(self.extra_required)} are NOT NULL and the pipeline never writes them"
        if self.referenced_by:
            return f"its primary key is referenced by {', '.join(self.referenced_by)}"
        if self.hypertable_dimension not in (None, "timestamp_utc"):
            return f"it is a hypertable on {self.hypertable_dimension}, not timestamp_utc"
        return None

    def describe(self) -> str:
        columns = ", ".join(f"{name} {type_}" + ("" if nullable else " NOT NULL") for name, type_, nullable in self.columns)
        hypertable = f"a hypertable on {self.hypertable_dimension}" if self.hypertable_dimension else "not a hypertable"
        key = f"({', '.join(self.primary_key)})" if self.primary_key else "none"
        return f"columns {columns}; primary key {key}; {hypertable}; {self.row_count} rows"

    def refusal(self) -> str:
        """The runner's message: what it found, and what to do."""
        found = (
            f"schema {self.schema} already has a measurements table that heimdall-pipeline did not create "
            f"(no migration recorded it), so nothing was changed. Found: {self.describe()}. "
        )
        keep_apart = (
            "To keep it untouched, set HEIMDALL_DB_SCHEMA to a schema of ours (e.g. heimdall_pipeline) and run heimdall-migrate "
            "again: our tables go there, beside it"
        )
        reason = self.adoptable()
        if reason is None:
            return (
                found
                + keep_apart
                + (
                    "; or, to make it ours with every row kept, run heimdall-migrate --adopt-measurements "
                    "(docs/integrating.md, 'Beside Heimdall's database')."
                )
            )
        return found + keep_apart + f". It cannot be adopted: {reason}."


def _same_type(found: str | None, seed: str) -> bool:
    return found == seed or (seed == "text" and found is not None and found.startswith("character varying"))


def _measurements(schema: str) -> sql.Composed:
    return sql.SQL("{}.measurements").format(sql.Identifier(schema))


def foreign_measurements(conn: psycopg.Connection, schema: str, migrations) -> ForeignMeasurements | None:
    """`<schema>.measurements` when it exists and our record has not applied the migration that
    creates it (0001), described; else None. Reads only, and only that schema."""
    (creating,) = [m for m in migrations if m.name == "measurements"] or [None]
    if creating is None:  # a test's own migration directory: nothing of ours to protect
        return None
    table = scalar(conn.execute("SELECT to_regclass(%s)", (f'"{schema}".measurements',)))
    if table is None:
        return None
    has_ledger = scalar(conn.execute("SELECT to_regclass(%s)", (f'"{schema}".schema_migrations',))) is not None
    recorded = (
        has_ledger
        and conn.execute(
            sql.SQL("SELECT 1 FROM {}.schema_migrations WHERE version = %s").format(sql.Identifier(schema)),
            (creating.version,),
        ).fetchone()
    )
    if recorded:
        return None
    columns = conn.execute(
        """
        SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull
        FROM pg_attribute a
        WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum
        """,
        (f'"{schema}".measurements',),
    ).fetchall()
    primary_key = scalar(
        conn.execute(
            """
        SELECT coalesce(array_agg(a.attname ORDER BY k.ord), '{}')
        FROM pg_index i
        JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON TRUE
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = %s::regclass AND i.indisprimary
        """,
            (f'"{schema}".measurements',),
        )
    )
    dimension = conn.execute(
        "SELECT column_name FROM timescaledb_information.dimensions "
        "WHERE hypertable_schema = %s AND hypertable_name = 'measurements' AND dimension_number = 1",
        (schema,),
    ).fetchone()
    referenced_by = [
        name
        for (name,) in conn.execute(
            "SELECT conrelid::regclass::text || '.' || conname FROM pg_constraint "
            "WHERE contype = 'f' AND confrelid = %s::regclass AND conrelid <> confrelid",
            (f'"{schema}".measurements',),
        )
    ]
    row_count = scalar(conn.execute(sql.SQL("SELECT count(*) FROM {}").format(_measurements(schema))))
    return ForeignMeasurements(
        schema, [tuple(c) for c in columns], list(primary_key), dimension[0] if dimension else None, row_count, referenced_by
    )


@dataclass(frozen=True)
class Adoption:
    rows_before: int
    rows_kept: int
    rows_set_aside: int  # in measurements_set_aside, with the reason

    @property
    def summary(self) -> str:
        aside = (
            f", {self.rows_set_aside} set aside in {SET_ASIDE_TABLE} (see its set_aside_reason)" if self.rows_set_aside else ""
        )
        return f"adopted measurements: {self.rows_before} rows, {self.rows_kept} kept in measurements{aside}; recorded as 0001"


def adopt_measurements(conn: psycopg.Connection, schema: str, found: ForeignMeasurements, migrations) -> Adoption:
    """Make `<schema>.measurements` what migration 0001 creates, in one transaction, and record 0001
    as applied (its checksum, so the immutability guard holds). Rows are never deleted: a second
    row of one (task_id, websdr_id, timestamp_utc), or a row with a NULL in the key, is moved to
    measurements_set_aside (the lowest id, or the first stored row, stays). Raises MigrationError
    when the table cannot be adopted (the reason), changing nothing."""
    reason = found.adoptable()
    if reason is not None:
        raise MigrationError(f"cannot adopt {schema}.measurements: {reason}. Found: {found.describe()}.")
    try:
        return _adopt(conn, schema, found, migrations)
    except psycopg.Error as error:  # the server refused a step: one line, and the transaction rolls back
        detail = " ".join(str(error).split())[:300]
        raise MigrationError(
            f"cannot adopt {schema}.measurements, nothing was changed: {detail}. Found: {found.describe()}."
        ) from None


def _adopt(conn: psycopg.Connection, schema: str, found: ForeignMeasurements, migrations) -> Adoption:
    (creating,) = [m for m in migrations if m.name == "measurements"]
    table = _measurements(schema)
    names = [name for name, _, _ in found.columns]
    column_list = sql.SQL(", ").join(sql.Identifier(name) for name in names)
    order = sql.SQL("id") if "id" in names else sql.SQL("tableoid, ctid")  # ctid alone repeats across a hypertable's chunks
    key = sql.SQL(", ").join(sql.Identifier(c) for c in PRIMARY_KEY)
    set_aside = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(SET_ASIDE_TABLE))
    with conn.transaction():
        conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(table))
        rows_before = scalar(conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table)))
        ranked = sql.SQL(
            """
            SELECT tableoid AS row_table, ctid AS row_id,
                   CASE WHEN task_id IS NULL OR websdr_id IS NULL OR timestamp_utc IS NULL
                        THEN 'a NULL in the primary key (task_id, websdr_id, timestamp_utc)'
                        WHEN row_number() OVER (PARTITION BY {key} ORDER BY {order}) > 1
                        THEN 'another row has the same (task_id, websdr_id, timestamp_utc)'
                   END AS reason
            FROM {table}
            """
        ).format(key=key, order=order, table=table)
        to_move = scalar(conn.execute(sql.SQL("SELECT count(*) FROM ({}) r WHERE reason IS NOT NULL").format(ranked)))
        moved = 0
        if to_move:
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} AS SELECT NULL::text AS set_aside_reason, now() AS set_aside_at, {} "
                    "FROM {} WITH NO DATA"
                ).format(set_aside, column_list, table)
            )
            moved = conn.execute(
                sql.SQL(
                    """
                    WITH ranked AS ({ranked}), moved AS (
                        DELETE FROM {table} m USING ranked r
                        WHERE m.tableoid = r.row_table AND m.ctid = r.row_id AND r.reason IS NOT NULL
                        RETURNING r.reason, m.*
                    )
                    INSERT INTO {set_aside} (set_aside_reason, {columns}) SELECT reason, {columns} FROM moved
                    """
                ).format(ranked=ranked, table=table, set_aside=set_aside, columns=column_list)
            ).rowcount
        for column in found.to_widen:  # varchar -> text: binary-compatible, no rewrite, no value changes
            conn.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE text").format(table, sql.Identifier(column)))
        if "id" not in names:
            conn.execute(sql.SQL("ALTER TABLE {} ADD COLUMN id BIGSERIAL NOT NULL").format(table))
        for constraint in conn.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'", (f'"{schema}".measurements',)
        ).fetchall():
            if found.primary_key != list(PRIMARY_KEY):
                conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(table, sql.Identifier(constraint[0])))
        if found.primary_key != list(PRIMARY_KEY):
            conn.execute(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(table, key))
        for column in ("id", *PRIMARY_KEY):  # the seed's NOT NULLs (the key's come with the primary key)
            conn.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET NOT NULL").format(table, sql.Identifier(column)))
        if found.hypertable_dimension is None:
            conn.execute(
                "SELECT create_hypertable(%s::regclass, 'timestamp_utc', chunk_time_interval => INTERVAL '1 day', "
                "create_default_indexes => FALSE, migrate_data => TRUE)",
                (f'"{schema}".measurements',),
            )
        for name, columns in SEED_INDEXES.items():
            conn.execute(sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} " + columns).format(sql.Identifier(name), table))
        rows_kept = scalar(conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table)))
        if rows_kept + moved != rows_before:  # cannot happen; if it did, roll everything back
            raise MigrationError(f"adoption would lose rows: {rows_before} before, {rows_kept} kept, {moved} set aside")
        record_applied(conn, schema, creating)
    return Adoption(rows_before, rows_kept, moved)
