from datetime import UTC, datetime

from heimdall_pipeline_tests.conftest import backdate


def test_backdate_changes_listed_last_modified(s3, bucket):
    s3.put_object(Bucket=bucket, Key="sessions/a/websdr_1_metadata.json", Body=b"{}")
    when = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    backdate(bucket, "sessions/a/websdr_1_metadata.json", when)
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"][0]
    assert listed["LastModified"] == when
