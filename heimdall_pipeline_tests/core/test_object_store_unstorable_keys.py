"""A key PostgreSQL text cannot hold (a NUL byte) or that is not valid UTF-8 never stops the
listing, the ledger's COPY or the sensor: it is recorded, escaped, as rejected bad_key."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from heimdall_pipeline.core.object_store import (
    UNSTORABLE_KEY_PREFIX,
    ObjectInfo,
    is_storable_key,
    ledger_key,
    original_key,
)
from heimdall_pipeline.devtools.sample_data import generate_day, upload
from heimdall_pipeline.ingest.loader import record_listed
from heimdall_pipeline.ingest.uploads import ingest_window, load_objects

DAY = date(2025, 10, 22)
NUL_KEY = "sessions/ab\x00cd/websdr_1_metadata.json"
SURROGATE_KEY = "sessions/x\udcff/websdr_2_metadata.json"  # bytes that were not UTF-8, decoded with surrogateescape
REPLACED_KEY = "sessions/x\ufffdy/websdr_3_metadata.json"  # ... or with replacement characters


def test_ledger_key_escapes_only_what_text_cannot_hold_and_is_reversible():
    normal = "sessions/7f3c/websdr_1_metadata.json"
    assert ledger_key(normal) == normal and is_storable_key(normal)
    for key in (NUL_KEY, SURROGATE_KEY, REPLACED_KEY):
        stored = ledger_key(key)
        assert not is_storable_key(key)
        assert stored.startswith(UNSTORABLE_KEY_PREFIX) and stored.isascii() and "\x00" not in stored
        assert original_key(stored) == key
    assert ledger_key(NUL_KEY) == "unstorable-key:sessions/ab\\x00cd/websdr_1_metadata.json"
    assert original_key(normal) == normal


def test_a_nul_key_in_the_bucket_is_rejected_and_the_day_loads(db, s3, bucket):
    good = generate_day(DAY, sessions=3)
    upload(s3, bucket, good)
    s3.put_object(Bucket=bucket, Key=NUL_KEY, Body=good[0].body)  # S3 (moto here) accepts it
    now = datetime.now(UTC)
    start, end = now - timedelta(hours=1), now + timedelta(hours=1)

    listing, result = ingest_window(db, s3, bucket, start, end)

    assert listing.new == len(good) + 1
    assert (result.inserted, result.failed) == (len(good), 0)
    status, reason, etag = db.execute(
        "SELECT status, reason, etag FROM ingest_ledger WHERE object_key = %s", (ledger_key(NUL_KEY),)
    ).fetchone()
    assert status == "rejected" and reason.startswith("bad_key: the key has a NUL byte")
    assert ledger_key(NUL_KEY) in reason
    # A user gets at the object from the ledger's key.
    assert s3.get_object(Bucket=bucket, Key=original_key(ledger_key(NUL_KEY)))["ETag"].strip('"') == etag
    # Listed again: unchanged, nothing pending, nothing fetched.
    listing, again = ingest_window(db, s3, bucket, start, end)
    assert (listing.new, listing.changed, listing.unchanged, again.objects) == (0, 0, len(good) + 1, 0)


def test_keys_boto3_cannot_send_are_handled_from_the_listing_values(db):
    """S3 refuses keys that are not UTF-8, so boto3 cannot put one; the functions take the ObjectInfo
    values a listing would give (what botocore's URL-decoding of such a key yields)."""
    at = datetime(2025, 10, 22, 12, tzinfo=UTC)
    infos = [ObjectInfo(key, "etag-1", 10, at) for key in (NUL_KEY, SURROGATE_KEY, REPLACED_KEY)]
    good = ObjectInfo("sessions/ok/websdr_4_metadata.json", "etag-2", 10, at)

    listing = record_listed(db, [*infos, good])

    assert (listing.new, listing.changed, listing.unchanged) == (4, 0, 0)
    rows = dict(db.execute("SELECT object_key, status FROM ingest_ledger").fetchall())
    assert rows == {**{ledger_key(i.key): "rejected" for i in infos}, good.key: "pending"}
    # The next reconciliation over the same slice: all known, nothing recorded again, no crash.
    again = record_listed(db, [*infos, good])
    assert (again.new, again.changed, again.unchanged, again.recorded) == (0, 0, 4, ())
    # Given straight to the loader (no listing), they are rejected without a GET.
    result = load_objects(db, None, "no-bucket-needed", infos)
    assert (result.objects, result.rejected) == (3, 3)
