"""Advisory locks between runs: a wait is logged with the holder's pid, and bounded."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest

from heimdall_pipeline.core.db import connect
from heimdall_pipeline.core.locks import LockWaitTimeout, advisory_locks

LOCK = "heimdall:upload-day:2026-11-28"


@pytest.fixture
def holder(clean_database_url):
    """Another session (another run) holding the day's lock."""
    with connect(clean_database_url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (LOCK,))
        yield other


HELD_BY_ME = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"


def test_a_free_lock_is_taken_without_a_word(db, caplog):
    with caplog.at_level(logging.INFO, logger="heimdall_pipeline.core.locks"):
        with advisory_locks(db, [LOCK]):
            assert db.execute(HELD_BY_ME).fetchone()[0] == 1
    assert caplog.records == []
    assert db.execute(HELD_BY_ME).fetchone()[0] == 0


def test_a_held_lock_is_waited_for_with_a_log_line_naming_the_holder(db, holder, caplog):
    releaser = threading.Timer(0.5, lambda: holder.execute("SELECT pg_advisory_unlock_all()"))
    releaser.start()
    with caplog.at_level(logging.INFO, logger="heimdall_pipeline.core.locks"):
        with advisory_locks(db, [LOCK], wait=timedelta(seconds=30)):
            pass
    releaser.join()
    messages = [record.getMessage() for record in caplog.records]
    assert messages[0].startswith(f"waiting for lock {LOCK} held by pid {holder.info.backend_pid}")
    assert messages[1].startswith(f"took lock {LOCK} after waiting")
    # The wait's lock_timeout was local to its transaction.
    assert db.execute("SHOW lock_timeout").fetchone()[0] == "0"


def test_a_lock_held_too_long_fails_clearly_naming_it(db, holder, caplog):
    with pytest.raises(LockWaitTimeout) as caught:
        with advisory_locks(db, ["heimdall:a-free-one", LOCK], wait=timedelta(seconds=1)):
            pytest.fail("the lock was not held")
    message = str(caught.value)
    assert LOCK in message and str(holder.info.backend_pid) in message and "0:00:01" in message
    # What it did take, it gave back; the connection works.
    assert db.execute(HELD_BY_ME).fetchone()[0] == 0
