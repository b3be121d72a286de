-- Per receiver and frequency: the hourly offset series and a least-squares drift rate fitted over
-- the raw offsets in [window_start, window_end) against time in hours. A receiver is a station
-- (station_key), named by the station that had the id at the measurement's time: a station
-- renumbered in the window keeps one fit, and two stations that had one id are never one series
-- (report_rows, migration 0022).
-- From raw rows, not measurements_hourly: an hour's aggregate per id would mix the two stations of
-- an hour that holds a change.
WITH window_rows AS (
    SELECT timestamp_utc, websdr_id, frequency_mhz, frequency_offset_hz, station_key, receiver
    FROM report_rows(%(window_start)s, %(window_end)s, 'stored')
),
fits AS (
    SELECT station_key,
           frequency_mhz,
           count(frequency_offset_hz) AS fit_samples,
           regr_slope(frequency_offset_hz, extract(epoch FROM timestamp_utc)::float8 / 3600) AS drift_hz_per_hour,
           regr_r2(frequency_offset_hz, extract(epoch FROM timestamp_utc)::float8 / 3600) AS drift_r2
    FROM window_rows
    GROUP BY 1, 2
),
hourly AS (
    SELECT time_bucket('1 hour', timestamp_utc) AS hour,
           websdr_id,
           station_key,
           receiver,
           frequency_mhz,
           count(*)::integer AS measurement_count,
           avg(frequency_offset_hz) AS offset_avg_hz,
           min(frequency_offset_hz) AS offset_min_hz,
           max(frequency_offset_hz) AS offset_max_hz
    FROM window_rows
    GROUP BY 1, 2, 3, 4, 5
)
SELECT h.hour,
       h.websdr_id,
       h.station_key,
       h.receiver,
       h.frequency_mhz,
       h.measurement_count,
       h.offset_avg_hz,
       h.offset_min_hz,
       h.offset_max_hz,
       f.drift_hz_per_hour,
       f.drift_r2,
       f.fit_samples
FROM hourly AS h
JOIN fits AS f USING (station_key, frequency_mhz)
ORDER BY h.websdr_id, h.station_key, h.frequency_mhz, h.hour
