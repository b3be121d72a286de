-- The oldest notifications MinIO appended to s3_events, in order.
SELECT id, event_data FROM s3_events ORDER BY id LIMIT %(limit)s
