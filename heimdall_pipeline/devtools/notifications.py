"""Switch S3 → SQS object notifications on for a bucket of the local S3 server (moto), as AWS does it.

`python -m heimdall_pipeline.devtools.notifications` creates the queue, points the bucket's
metadata objects at it and prints the two variables `heimdall-events` needs. On AWS the same two
calls are made once by whoever owns the bucket (docs/operating.md, "Notifications"); the queue then
also needs a policy letting s3.amazonaws.com send to it, which moto does not check.
"""

from __future__ import annotations

import sys

import boto3

from heimdall_pipeline.core.object_store import METADATA_SUFFIX, SESSIONS_PREFIX, s3_client_from_settings
from heimdall_pipeline.core.settings import Settings, exit_on_config_error

DEFAULT_QUEUE = "heimdall-metadata-events"


def sqs_client(endpoint_url: str | None, region: str, key_id: str | None, secret: str | None):
    return boto3.client(
        "sqs", endpoint_url=endpoint_url, region_name=region, aws_access_key_id=key_id, aws_secret_access_key=secret
    )


def configure_sqs_notifications(s3, sqs, bucket: str, queue_name: str = DEFAULT_QUEUE) -> str:
    """Create the queue (if needed) and notify it of every metadata object created or removed under
    sessions/ in `bucket`. Returns the queue's URL."""
    queue_url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "Id": "heimdall-pipeline-metadata",
                    "QueueArn": arn,
                    "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                    "Filter": {
                        "Key": {
                            "FilterRules": [
                                {"Name": "prefix", "Value": SESSIONS_PREFIX},
                                {"Name": "suffix", "Value": METADATA_SUFFIX},
                            ]
                        }
                    },
                }
            ]
        },
    )
    return queue_url


def main() -> int:
    with exit_on_config_error("notifications"):
        settings = Settings.from_env()
    s3 = s3_client_from_settings(settings)
    sqs = sqs_client(settings.s3_endpoint_url, settings.aws_region, settings.aws_access_key_id, settings.aws_secret_access_key)
    url = configure_sqs_notifications(s3, sqs, settings.s3_bucket)
    print(f"HEIMDALL_EVENTS_SQS_QUEUE_URL={url}")
    if settings.s3_endpoint_url:
        print(f"HEIMDALL_EVENTS_SQS_ENDPOINT_URL={settings.s3_endpoint_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
