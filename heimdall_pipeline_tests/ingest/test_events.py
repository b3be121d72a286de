"""Object notifications: parsed from the shapes AWS S3 (via SQS, moto's server as the producer) and
MinIO (its documented records) deliver, recorded in the ledger with the store deciding, loaded at
once by the consumer; duplicates, reordering, foreign and malformed notifications are harmless."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from heimdall_pipeline.core.object_store import ObjectInfo
from heimdall_pipeline.devtools.notifications import configure_sqs_notifications, sqs_client
from heimdall_pipeline.devtools.sample_data import generate_day, upload
from heimdall_pipeline.ingest import events as events_module
from heimdall_pipeline.ingest.discovery import DiscoveryCursor, reconcile_slice
from heimdall_pipeline.ingest.event_consumer import consume_round
from heimdall_pipeline.ingest.event_sources import MinioEventTable, SqsQueue
from heimdall_pipeline.ingest.events import CREATED, REMOVED, ObjectEvent, apply_events, parse_body
from heimdall_pipeline.ingest.loader import record_listed
from heimdall_pipeline_tests.conftest import backdate

BUCKET = "heimdall-raw-iq"
KEY = "sessions/3f1c9a52-7d0e-4b7a-9a61-2c5e8d4f0b17/websdr_1_metadata.json"
AT = "2026-12-04T10:00:00.000Z"


def aws_record(key: str, name: str = "ObjectCreated:Put", bucket: str = BUCKET, **obj) -> dict:
    """A record as moto's server (and AWS) writes it; moto encodes the key with quote_plus."""
    from urllib.parse import quote_plus

    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": AT,
        "eventName": name,
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "c",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {"key": quote_plus(key), "size": 10, "eTag": "abc", **obj},
        },
    }


def minio_record(key: str, name: str = "s3:ObjectCreated:Put") -> dict:
    """A record as MinIO documents it (webhook, AMQP and the PostgreSQL target's event_data)."""
    from urllib.parse import quote_plus

    record = {
        "eventVersion": "2.0",
        "eventSource": "minio:s3",
        "awsRegion": "",
        "eventTime": AT,
        "eventName": name,
        "userIdentity": {"principalId": "minio"},
        "requestParameters": {"sourceIPAddress": "[::1]:39706"},
        "responseElements": {},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "Config",
            "bucket": {"name": BUCKET, "ownerIdentity": {"principalId": "minio"}, "arn": f"arn:aws:s3:::{BUCKET}"},
            "object": {
                "key": quote_plus(key),
                "size": 56060,
                "eTag": "1d97bf45ecb37f7a7b699418070df08f",
                "contentType": "application/json",
                "userMetadata": {},
                "sequencer": "147CE57C70B31931",
            },
        },
        "source": {"host": "[::1]", "port": "", "userAgent": "MinIO (linux; amd64) minio-go/v7"},
    }
    if name.startswith("s3:ObjectRemoved"):
        for field in ("eTag", "size", "contentType", "userMetadata"):
            del record["s3"]["object"][field]
    return record


# --- parsing ------------------------------------------------------------------------------------


def test_aws_and_minio_records_give_the_same_event_with_the_key_decoded():
    spaced = "sessions/a b+c/websdr_1_metadata.json"
    aws = parse_body(json.dumps({"Records": [aws_record(spaced)]}), BUCKET)
    webhook = parse_body(
        json.dumps({"EventName": "s3:ObjectCreated:Put", "Key": f"{BUCKET}/{spaced}", "Records": [minio_record(spaced)]}), BUCKET
    )
    table_row = parse_body({"Records": [minio_record(spaced)]}, BUCKET)  # the PostgreSQL target's JSONB
    for parsed in (aws, webhook, table_row):
        assert [(e.kind, e.key) for e in parsed.events] == [(CREATED, spaced)] and not parsed.dropped
    assert aws.events[0].event_time == datetime(2026, 12, 4, 10, tzinfo=UTC)
    removed = parse_body({"Records": [minio_record(KEY, "s3:ObjectRemoved:Delete")]}, BUCKET)
    assert [(e.kind, e.etag, e.size_bytes) for e in removed.events] == [(REMOVED, None, None)]


def test_test_events_recordings_and_sns_envelopes():
    assert parse_body('{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"x","Bucket":"b"}', BUCKET).ignored == 1
    recording = parse_body({"Records": [aws_record(KEY.replace("_metadata.json", "_iq.npy"))]}, BUCKET)
    assert (recording.ignored, recording.events, recording.dropped) == (1, [], [])
    sns = {"Type": "Notification", "Message": json.dumps({"Records": [aws_record(KEY)]})}
    assert [e.key for e in parse_body(json.dumps(sns), BUCKET).events] == [KEY]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json at all", "malformed: not JSON"),
        ('{"Records": {"a": 1}}', "malformed: no Records list"),
        ("[1, 2]", "malformed: no Records list"),
        ('{"Records": [42]}', "malformed: a record that is not an object"),
        ('{"Records": [{"eventName": "ObjectCreated:Put"}]}', "malformed: a record without eventName and s3"),
        (json.dumps({"Records": [aws_record(KEY, bucket="someone-else")]}), "another bucket"),
        (json.dumps({"Records": [aws_record("uploads/x_metadata.json")]}), "outside sessions/"),
        (json.dumps({"Records": [aws_record(KEY, name="ObjectRestore:Post")]}), "unsupported event"),
        (json.dumps({"Records": [{**aws_record(KEY), "eventTime": "yesterday"}]}), "malformed: eventTime"),
        (
            json.dumps({"Records": [{**aws_record(KEY), "s3": {"bucket": {"name": BUCKET}, "object": {}}}]}),
            "malformed: no s3.object.key",
        ),
        ("[" * 100_000 + "]" * 100_000, "malformed: not JSON"),
        ("x" * (events_module.MAX_BODY_BYTES + 1), "malformed: a body of"),
        (json.dumps({"Records": [aws_record(KEY)] * (events_module.MAX_RECORDS_PER_BODY + 1)}), "malformed: 1,001 records"),
    ],
)
def test_malformed_and_foreign_notifications_are_dropped_with_a_reason(body, reason):
    parsed = parse_body(body, BUCKET)
    assert parsed.events == [] and len(parsed.dropped) == 1
    assert parsed.dropped[0].reason.startswith(reason) and len(parsed.dropped[0].excerpt) <= 200


def test_one_bad_record_does_not_take_the_good_ones_down():
    parsed = parse_body({"Records": [aws_record(KEY), {"junk": True}, aws_record(KEY, bucket="x")]}, BUCKET)
    assert [e.key for e in parsed.events] == [KEY] and len(parsed.dropped) == 2


# --- the ledger, with the store deciding -------------------------------------------------------


def _put(s3, bucket: str, key: str, body: bytes, at: datetime) -> ObjectInfo:
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    backdate(bucket, key, at)
    head = s3.head_object(Bucket=bucket, Key=key)
    return ObjectInfo(key, head["ETag"].strip('"'), head["ContentLength"], head["LastModified"])


def _event(kind: str, key: str, at: datetime) -> ObjectEvent:
    return ObjectEvent(kind, key, at)


def test_duplicate_late_and_reordered_events_change_nothing(db, s3, bucket):
    uploaded = datetime(2025, 6, 10, 12, tzinfo=UTC)
    info = _put(s3, bucket, KEY, b"{}", uploaded)
    first = apply_events(db, s3, bucket, [_event(CREATED, KEY, uploaded)])
    assert (first.new, first.days) == (1, {date(2025, 6, 10)})
    row = db.execute("SELECT etag, last_modified, status, listed_by FROM ingest_ledger").fetchone()
    assert row == (info.etag, uploaded, "pending", "events")  # what HEAD said, not what the event said

    duplicate = apply_events(db, s3, bucket, [_event(CREATED, KEY, uploaded)] * 3)
    assert (duplicate.created, duplicate.unchanged, duplicate.days) == (1, 1, set())

    # A delete from before the current version arrives late: the newer version stays.
    stale_removal = apply_events(db, s3, bucket, [_event(REMOVED, KEY, uploaded - timedelta(minutes=5))])
    assert (stale_removal.removed, stale_removal.removed_ignored) == (0, 1)
    # A new version, then the event of the old one: the ledger records the store's current version.
    newer = _put(s3, bucket, KEY, b'{"v": 2}', uploaded + timedelta(hours=1))
    late = apply_events(db, s3, bucket, [_event(CREATED, KEY, uploaded)])
    assert late.changed == 1
    assert db.execute("SELECT etag FROM ingest_ledger").fetchone() == (newer.etag,)

    s3.delete_object(Bucket=bucket, Key=KEY)
    gone = apply_events(db, s3, bucket, [_event(CREATED, KEY, uploaded)])  # its object is gone: nothing recorded
    assert (gone.gone, gone.new, gone.changed) == (1, 0, 0)
    removed = apply_events(db, s3, bucket, [_event(REMOVED, KEY, uploaded + timedelta(hours=2))] * 2)
    assert removed.removed == 1
    status, reason = db.execute("SELECT status, reason FROM ingest_ledger").fetchone()
    assert status == "missing" and reason.startswith("missing: an ObjectRemoved event at")
    # The reconciliation never sees it again; if it came back, the listing would make it pending.
    assert record_listed(db, [newer]).changed == 1


# --- the consumer ---------------------------------------------------------------------------------


@pytest.fixture
def notified_bucket(s3, bucket, s3_endpoint_url):
    sqs = sqs_client(s3_endpoint_url, "us-east-1", "heimdall", "heimdall-secret")
    queue_url = configure_sqs_notifications(s3, sqs, bucket, queue_name=f"q-{bucket}")
    source = SqsQueue(sqs, queue_url, visibility_timeout=2)
    yield bucket, source
    sqs.delete_queue(QueueUrl=queue_url)


def test_s3_to_sqs_uploads_are_recorded_and_loaded_without_any_listing(db, s3, notified_bucket):
    bucket, source = notified_bucket
    lists = []
    s3.meta.events.register("before-call.s3.ListObjectsV2", lambda **kwargs: lists.append(1))
    objects = generate_day(datetime.now(UTC).date(), sessions=1, seed=3, miss_rate=0)
    upload(s3, bucket, objects, with_iq=True)  # the recordings are filtered out by the notification config

    rounds = [consume_round(db, s3, bucket, source, wait_seconds=1)]
    while sum(r.events for r in rounds) < len(objects):  # S3's own test event may come first
        rounds.append(consume_round(db, s3, bucket, source, wait_seconds=1))
        assert len(rounds) < 5
    assert sum(r.applied.new for r in rounds) == len(objects) and not any(r.dropped for r in rounds)
    assert sum(res.inserted for r in rounds for res in r.loaded.values()) == len(objects)
    assert db.execute("SELECT count(*) FROM measurements").fetchone()[0] == len(objects)
    assert db.execute("SELECT DISTINCT status, listed_by FROM ingest_ledger").fetchall() == [("loaded", "events")]
    assert lists == []
    assert consume_round(db, s3, bucket, source, wait_seconds=0).notifications == 0  # acknowledged: gone

    # The same uploads again (same bytes, same ETags) and a deletion: nothing loaded twice.
    upload(s3, bucket, objects[:2])
    s3.delete_object(Bucket=bucket, Key=objects[2].key)
    again = consume_round(db, s3, bucket, source, wait_seconds=1)
    assert (again.applied.unchanged, again.applied.removed, again.applied.new) == (2, 1, 0)
    assert db.execute("SELECT count(*) FROM measurements").fetchone()[0] == len(objects)


def _minio_rows(db, records: list) -> None:
    with db.transaction():
        for body in records:
            db.execute("INSERT INTO s3_events (event_time, event_data) VALUES (now(), %s::jsonb)", (json.dumps(body),))


def test_minio_postgres_target_rows_are_consumed_and_forgotten(db, s3, bucket):
    objects = generate_day(datetime.now(UTC).date(), sessions=1, seed=4, miss_rate=0)
    upload(s3, bucket, objects)

    def record(key):
        r = minio_record(key)
        r["s3"]["bucket"]["name"] = bucket
        return {"Records": [r]}

    _minio_rows(db, [record(o.key) for o in objects] + [{"Records": [{"nonsense": 1}]}, record(objects[0].key)])
    result = consume_round(db, s3, bucket, MinioEventTable(db))
    assert (result.notifications, result.events, result.dropped) == (len(objects) + 2, len(objects) + 1, 1)
    assert result.applied.new == len(objects)
    assert db.execute("SELECT count(*) FROM measurements").fetchone()[0] == len(objects)
    assert db.execute("SELECT count(*) FROM s3_events").fetchone()[0] == 0
    assert db.execute("SELECT source, reason FROM s3_event_drops").fetchall() == [
        ("minio:s3_events", "malformed: a record without eventName and s3")
    ]


def test_a_round_that_fails_before_its_ledger_commit_gives_everything_back(db, s3, bucket, monkeypatch):
    objects = generate_day(datetime.now(UTC).date(), sessions=1, seed=5, miss_rate=0)[:2]
    upload(s3, bucket, objects)
    rows = []
    for o in objects:
        r = minio_record(o.key)
        r["s3"]["bucket"]["name"] = bucket
        rows.append({"Records": [r]})
    _minio_rows(db, rows)

    def broken_head(*args, **kwargs):
        raise ConnectionError("the store had a bad moment")

    monkeypatch.setattr(events_module, "head_object", broken_head)
    with pytest.raises(ConnectionError):
        consume_round(db, s3, bucket, MinioEventTable(db))
    assert db.execute("SELECT count(*) FROM s3_events").fetchone()[0] == len(objects)  # not acknowledged
    monkeypatch.undo()
    assert consume_round(db, s3, bucket, MinioEventTable(db)).applied.new == len(objects)
    assert db.execute("SELECT count(*) FROM measurements").fetchone()[0] == len(objects)


def test_the_reconciliation_finds_an_object_whose_notification_was_lost(db, s3, notified_bucket):
    bucket, source = notified_bucket
    objects = generate_day(datetime.now(UTC).date(), sessions=1, seed=6, miss_rate=0)[:3]
    upload(s3, bucket, objects)
    source.sqs.purge_queue(QueueUrl=source.queue_url)  # the notifications are lost
    assert consume_round(db, s3, bucket, source, wait_seconds=0).events == 0

    window = {"first_day": date(2025, 1, 1), "last_day": datetime.now(UTC).date()}
    plan = reconcile_slice(db, s3, bucket, DiscoveryCursor(), **window)
    assert (plan.new, plan.cursor.passes, plan.cursor.found_last_pass) == (3, 1, 3)  # what the pass found
    assert [(r.objects, r.source) for r in plan.requests] == [(3, "reconciliation")]
    assert db.execute("SELECT DISTINCT status, listed_by FROM ingest_ledger").fetchall() == [("pending", "listing")]


def test_the_consumer_outlives_a_failing_round(database_url, s3_endpoint_url, monkeypatch, caplog):
    """A refused HEAD or an unreachable queue fails one round, not the long-running consumer."""
    from botocore.exceptions import EndpointConnectionError

    from heimdall_pipeline.core.settings import EventSettings, Settings
    from heimdall_pipeline.ingest import event_consumer

    rounds = []

    def flaky_round(*args, **kwargs):
        rounds.append(1)
        if len(rounds) == 1:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
        return event_consumer.RoundResult()

    monkeypatch.setattr(event_consumer, "consume_round", flaky_round)
    monkeypatch.setattr(event_consumer.time, "sleep", lambda seconds: None)
    settings = Settings.from_env({"HEIMDALL_DATABASE_URL": database_url, "HEIMDALL_S3_ENDPOINT_URL": s3_endpoint_url})
    with caplog.at_level("WARNING", logger=event_consumer.__name__):
        assert event_consumer.run(settings, EventSettings(minio_table=True), once=True) == 0
    assert len(rounds) == 2 and "round failed, retrying in 2 s: EndpointConnectionError" in caplog.text
