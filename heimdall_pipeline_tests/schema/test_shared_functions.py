"""The functions of migration 0022 (upload_day_rows, stations_in_window, report_rows,
report_receivers): they read our tables whoever calls them and whatever their search_path, the
reader may call them, the planner inlines them, and a migration cannot break them silently.
What they compute is tested through the checks and reports that use them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg import sql

from heimdall_pipeline.core.db import connect
from heimdall_pipeline.core.settings import db_schema
from heimdall_pipeline.ingest.loader import load_measurements
from heimdall_pipeline.schema.grants import apply_grants
from heimdall_pipeline.schema.migrations import migrate
from heimdall_pipeline_tests.conftest import TEST_DB_SCHEMA, _user
from heimdall_pipeline_tests.measurement_rows import realistic_day
from heimdall_pipeline_tests.schema.test_schema_setting import (  # noqa: F401 - new_database is a fixture
    FIRST_DAY,
    _create_heimdall_tables,
    new_database,
)

DAY_START = datetime(2025, 3, 10, tzinfo=UTC)
WINDOW = (DAY_START, DAY_START + timedelta(days=1))
CALLS = (
    "SELECT count(*) FROM {}.upload_day_rows(%s, %s)",
    "SELECT count(*) FROM {}.report_rows(%s, %s, 'stored')",
    "SELECT count(*) FROM {}.stations_in_window(%s, %s)",
    "SELECT count(*) FROM {}.report_receivers(%s, %s)",
)


def test_they_read_our_tables_for_the_reader_even_with_only_heimdalls_schema_on_its_path(new_database, role_urls):  # noqa: F811
    owner_url, pipeline_url, reader_url = new_database
    ours = TEST_DB_SCHEMA if TEST_DB_SCHEMA != "public" else "heimdall_pipeline"
    with connect(owner_url, schema="public") as owner:
        _create_heimdall_tables(owner, "public")  # Heimdall's measurements, 297 rows from FIRST_DAY on
    migrate(owner_url, schema=ours)
    with connect(owner_url, schema=ours) as owner:
        apply_grants(owner, _user(role_urls.pipeline), _user(role_urls.reader), ours)
    with connect(pipeline_url, schema=ours) as conn:
        inserted = load_measurements(conn, realistic_day(FIRST_DAY, sessions=4)).inserted

    with connect(reader_url, schema="public") as reader:  # bare names would find Heimdall's tables
        counts = [reader.execute(sql.SQL(call).format(sql.Identifier(ours)), WINDOW).fetchone()[0] for call in CALLS]
    assert counts == [inserted, inserted, 7, 7]


def test_the_planner_inlines_them_into_the_calling_query(db):
    # A SET clause (or SECURITY DEFINER, STRICT, VOLATILE) would make each an opaque Function Scan.
    for call in CALLS:
        plan = "\n".join(row for (row,) in db.execute(sql.SQL("EXPLAIN " + call).format(sql.Identifier(db_schema())), WINDOW))
        assert "Function Scan" not in plan, plan


def test_a_migration_cannot_drop_a_column_they_read(owner_database_url):
    with connect(owner_database_url, autocommit=False) as owner:
        with pytest.raises(psycopg.errors.DependentObjectsStillExist, match="report_rows"):
            owner.execute("ALTER TABLE measurements DROP COLUMN power_dbm")
        owner.rollback()
