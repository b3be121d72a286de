-- Rows among the upload day [start, end)'s rows (upload_day_rows, migration 0022: whoever inserted
-- them) whose websdr_id no station had at the row's time (e.g. Heimdall added a receiver and the
-- list was not synced yet), per id.
SELECT r.websdr_id, count(*) AS measurements
FROM upload_day_rows(%(start)s, %(end)s) AS r
WHERE NOT EXISTS (
    SELECT FROM websdr_station_versions AS v
    WHERE v.websdr_id = r.websdr_id AND v.valid_during @> r.timestamp_utc
)
GROUP BY r.websdr_id
ORDER BY r.websdr_id
