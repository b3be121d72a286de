"""Session-level advisory locks that keep two runs (or a run and the notification consumer) from
working on the same day at once, waiting a bounded time and saying whom they wait for."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import psycopg

from heimdall_pipeline.core.db import read_sql, scalar

# How long a run waits for another run's lock on the same day before it fails, naming the lock:
# far longer than a day's load (seconds to minutes), short enough that a stuck holder is noticed.
DEFAULT_LOCK_WAIT = timedelta(minutes=10)


logger = logging.getLogger(__name__)


class LockWaitTimeout(RuntimeError):
    """Another session held an advisory lock for longer than we were willing to wait."""


@contextmanager
def advisory_locks(
    conn: psycopg.Connection, names: Iterable[str], *, wait: timedelta = DEFAULT_LOCK_WAIT, log: Any = logger
) -> Iterator[None]:
    """Hold session-level advisory locks on `names` (taken in sorted order, so runs never deadlock).

    A lock another session holds is waited for at most `wait`, and `log` (a logger, or Dagster's
    context.log) says so, naming the lock and the holder's pid; past `wait`, LockWaitTimeout.
    Committed right away, so the caller's own transactions stay real transactions.
    """
    held: list[str] = []
    try:
        for name in sorted(set(names)):
            _take_lock(conn, name, wait, log)
            held.append(name)
        yield
    finally:
        if conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR:
            conn.rollback()
        else:
            conn.commit()
        for name in reversed(held):
            conn.execute(read_sql("core/locks/advisory_unlock.sql"), {"name": name})
        conn.commit()


def _take_lock(conn: psycopg.Connection, name: str, wait: timedelta, log: Any) -> None:
    conn.commit()
    taken = scalar(conn.execute(read_sql("core/locks/advisory_try_lock.sql"), {"name": name}))
    conn.commit()
    if taken:
        return
    holders_query = conn.execute(read_sql("core/locks/advisory_lock_holders.sql"), {"name": name})
    holders = ", ".join(str(pid) for (pid,) in holders_query)
    conn.commit()
    log.info(f"waiting for lock {name} held by pid {holders or '(released meanwhile)'}, for at most {wait}")
    started = time.monotonic()
    try:
        with conn.transaction():
            # Local to this transaction: the caller's statements keep the server's lock_timeout.
            timeout = f"{max(1, int(wait.total_seconds() * 1000))}ms"
            conn.execute("SELECT set_config('lock_timeout', %s, true)", (timeout,))
            conn.execute(read_sql("core/locks/advisory_lock.sql"), {"name": name})
    except psycopg.errors.LockNotAvailable:
        raise LockWaitTimeout(
            f"gave up waiting for lock {name} after {wait}: held by pid {holders or '(unknown)'}. "
            "Another run is working on the same day; if it is stuck, end it "
            "(SELECT pg_terminate_backend(pid)) and re-run."
        ) from None
    log.info(f"took lock {name} after waiting {time.monotonic() - started:.1f} s")
