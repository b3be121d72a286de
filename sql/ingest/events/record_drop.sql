-- A notification that named nothing we can record, kept with its reason.
INSERT INTO s3_event_drops (source, reason, excerpt) VALUES (%s, %s, %s)
