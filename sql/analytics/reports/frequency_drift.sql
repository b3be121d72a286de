-- Per receiver and frequency: the hourly offset series and a least-squares drift rate fitted over
-- the raw offsets in [window_start, window_end) against time in hours. A receiver is a station
-- (station_key), named by the station that had the id at the measurement's time: a station
-- renumbered in the window keeps one fit, and two stations that had one id are never one series.
-- From raw rows, not measurements_hourly: an hour's aggregate per id would mix the two stations of
-- an hour that holds a change.
WITH window_rows AS (
    SELECT m.timestamp_utc,
           m.websdr_id,
           m.frequency_mhz,
           m.frequency_offset_hz,
           coalesce(s.station_key, 'websdr ' || m.websdr_id) AS station_key,
           coalesce(s.name, 'websdr ' || m.websdr_id) AS receiver
    FROM measurements AS m
    LEFT JOIN websdr_station_versions AS s ON s.websdr_id = m.websdr_id AND s.valid_during @> m.timestamp_utc
    WHERE m.timestamp_utc >= %(window_start)s AND m.timestamp_utc < %(window_end)s
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
