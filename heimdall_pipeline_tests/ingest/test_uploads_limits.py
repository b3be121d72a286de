"""Size limits and the last line of defence of the load path, against the real S3 endpoint and TimescaleDB."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, timedelta

from heimdall_pipeline.devtools.sample_data import SampleObject, generate_day, metadata_key, upload
from heimdall_pipeline.ingest import uploads as ingest
from heimdall_pipeline.ingest.measurement import MAX_OBJECT_BYTES, MAX_REASON_CHARS
from heimdall_pipeline.ingest.uploads import ingest_window, list_uploads, load_pending

DAY = date(2025, 10, 22)


def _now_window() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(hours=1), now + timedelta(hours=1)


def _ledger(db) -> dict[str, tuple[str, str | None]]:
    return {
        key: (status, reason)
        for key, status, reason in db.execute("SELECT object_key, status, reason FROM ingest_ledger").fetchall()
    }


def test_an_object_over_the_size_limit_is_rejected_from_its_listing_unread(db, s3, bucket):
    good = generate_day(DAY, sessions=3)
    document = json.loads(good[0].body)
    document["padding"] = "p" * MAX_OBJECT_BYTES  # valid, but over 1 MiB
    huge = SampleObject(metadata_key("huge-task", document["websdr_id"]), json.dumps(document).encode())
    upload(s3, bucket, good + [huge])
    start, end = _now_window()

    _, result = ingest_window(db, s3, bucket, start, end)

    assert (result.objects, result.inserted, result.rejected) == (len(good) + 1, len(good), 1)
    assert result.bytes == sum(len(o.body) for o in good)  # the huge body was never read
    status, reason = _ledger(db)[huge.key]
    assert status == "rejected"
    assert reason == f"too_large: the listing says {len(huge.body):,} bytes, over the {MAX_OBJECT_BYTES:,}-byte limit"


def test_the_size_limit_is_a_knob(db, s3, bucket):
    objects = generate_day(DAY, sessions=2)
    upload(s3, bucket, objects)
    start, end = _now_window()
    list_uploads(db, s3, bucket, start, end)
    limit = sorted(len(o.body) for o in objects)[len(objects) // 2]

    result = load_pending(db, s3, bucket, start, end, max_object_bytes=limit)

    over = {o.key for o in objects if len(o.body) > limit}
    assert over and (result.rejected, result.inserted) == (len(over), len(objects) - len(over))
    ledger = _ledger(db)
    assert all(ledger[key][1].startswith("too_large: ") for key in over)


def test_an_unexpected_parser_error_rejects_only_that_object_and_names_its_key(db, s3, bucket, monkeypatch, caplog):
    # No real body makes the parser raise anything but a rejection any more; a parser bug is
    # stood in for by one that fails on one key, to show such a bug cannot stall the day.
    objects = generate_day(DAY, sessions=3)
    upload(s3, bucket, objects)
    doomed = objects[1].key
    real_parse = ingest.parse_metadata_object

    def parse_with_a_bug(bucket_name, key, body, max_bytes):
        if key == doomed:
            raise ZeroDivisionError("x" * 10_000)
        return real_parse(bucket_name, key, body, max_bytes)

    monkeypatch.setattr(ingest, "parse_metadata_object", parse_with_a_bug)
    start, end = _now_window()
    with caplog.at_level(logging.ERROR, logger="heimdall_pipeline.ingest.uploads"):
        _, result = ingest_window(db, s3, bucket, start, end)

    assert (result.inserted, result.rejected, result.failed) == (len(objects) - 1, 1, 0)
    status, reason = _ledger(db)[doomed]
    assert status == "rejected" and reason.startswith("internal_error: ZeroDivisionError: xxx")
    assert len(reason) <= MAX_REASON_CHARS
    assert [r.key for r in (x.info for x in result.rejections)] == [doomed]
    assert any(doomed in record.getMessage() for record in caplog.records)
