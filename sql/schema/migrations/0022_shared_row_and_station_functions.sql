-- What several queries mean by the same words, defined once: the rows of an upload day (the ingest
-- checks and the measurements asset), the stations of a window and the window's rows with their
-- station (the reports and the receivers check). Before this, each query carried its own copy.
--
-- SQL-standard bodies (BEGIN ATOMIC): parsed here, so the tables they name are ours whatever the
-- caller's search_path (HEIMDALL_DB_SCHEMA: beside Heimdall's own public.measurements, a bare name
-- must never fall through to it), and PostgreSQL records what they use (a migration that drops or
-- retypes a column they read fails instead of leaving them broken). Plain LANGUAGE sql, STABLE,
-- not STRICT, no SET clause: the planner inlines them into the calling query, which is then planned
-- as if the query had been written out (chunk exclusion on the window included).
-- SECURITY INVOKER: the caller reads only what its own grants allow, so EXECUTE is granted to
-- PUBLIC explicitly (the reader role's reports call them), whatever the default privileges are.

-- The rows of the upload day [day_start, day_end), whoever inserted them (this pipeline or
-- Heimdall's worker): every row measured in the window, and every row the day's uploads name (their
-- own, or the one they found already there) measured on another day (late uploads),
-- measured_on_day false. One chunk (1-day chunks) plus a primary-key probe per late upload.
CREATE FUNCTION upload_day_rows(day_start TIMESTAMPTZ, day_end TIMESTAMPTZ)
RETURNS TABLE (
    task_id TEXT,
    websdr_id INTEGER,
    timestamp_utc TIMESTAMPTZ,
    snr_db FLOAT8,
    frequency_offset_hz FLOAT8,
    sample_rate_khz FLOAT8,
    measured_on_day BOOLEAN
)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT m.task_id, m.websdr_id, m.timestamp_utc, m.snr_db, m.frequency_offset_hz, m.sample_rate_khz, TRUE
    FROM measurements AS m
    WHERE m.timestamp_utc >= day_start AND m.timestamp_utc < day_end
    UNION ALL
    SELECT m.task_id, m.websdr_id, m.timestamp_utc, m.snr_db, m.frequency_offset_hz, m.sample_rate_khz, FALSE
    FROM (
        SELECT DISTINCT l.task_id, l.websdr_id, l.timestamp_utc
        FROM ingest_ledger AS l
        WHERE l.last_modified >= day_start AND l.last_modified < day_end
          AND l.status IN ('loaded', 'updated', 'present', 'conflict')
          AND (l.timestamp_utc < day_start OR l.timestamp_utc >= day_end)
    ) AS late
    JOIN measurements AS m
      ON m.task_id = late.task_id AND m.websdr_id = late.websdr_id AND m.timestamp_utc = late.timestamp_utc;
END;

-- Every station that had an id at some moment of [window_start, window_end) (websdr_station_versions),
-- with the id and name of its last version there and every id it had, oldest first ("4, 3" for a
-- station renumbered in the window). A station is its station_key, whatever ids it had.
CREATE FUNCTION stations_in_window(window_start TIMESTAMPTZ, window_end TIMESTAMPTZ)
RETURNS TABLE (station_key TEXT, websdr_id INTEGER, name TEXT, websdr_ids TEXT)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT ids.station_key,
           (array_agg(ids.websdr_id ORDER BY ids.since DESC))[1],
           (array_agg(ids.name ORDER BY ids.since DESC))[1],
           string_agg(ids.websdr_id::text, ', ' ORDER BY ids.since)
    FROM (
        SELECT v.station_key,
               v.websdr_id,
               max(lower(v.valid_during)) AS since,
               (array_agg(v.name ORDER BY lower(v.valid_during) DESC))[1] AS name
        FROM websdr_station_versions AS v
        WHERE v.websdr_id IS NOT NULL AND v.valid_during && tstzrange(window_start, window_end, '[)')
        GROUP BY v.station_key, v.websdr_id
    ) AS ids
    GROUP BY ids.station_key;
END;

-- The measurements of [window_start, window_end) as the reports show them: each counted for the
-- station that had its id at the measurement's time (station_key, receiver: that version's name),
-- or 'websdr N' for an id no station had then (unknown_id). snr_db is the SNR shown: with
-- snr_source 'recomputed', iq_metrics.snr_db where the recording was computed (NULL when it holds
-- no signal) and the stored snr_db elsewhere; with 'stored', the stored snr_db.
CREATE FUNCTION report_rows(window_start TIMESTAMPTZ, window_end TIMESTAMPTZ, snr_source TEXT)
RETURNS TABLE (
    task_id TEXT,
    websdr_id INTEGER,
    timestamp_utc TIMESTAMPTZ,
    frequency_mhz FLOAT8,
    frequency_offset_hz FLOAT8,
    power_dbm FLOAT8,
    snr_db FLOAT8,
    station_key TEXT,
    receiver TEXT,
    unknown_id BOOLEAN
)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT m.task_id,
           m.websdr_id,
           m.timestamp_utc,
           m.frequency_mhz,
           m.frequency_offset_hz,
           m.power_dbm,
           CASE WHEN i.task_id IS NOT NULL THEN i.snr_db ELSE m.snr_db END,
           coalesce(s.station_key, 'websdr ' || m.websdr_id),
           coalesce(s.name, 'websdr ' || m.websdr_id),
           s.station_key IS NULL
    FROM measurements AS m
    LEFT JOIN iq_metrics AS i
        ON i.task_id = m.task_id AND i.websdr_id = m.websdr_id AND i.timestamp_utc = m.timestamp_utc
       AND i.timestamp_utc >= window_start AND i.timestamp_utc < window_end
       AND i.status = 'computed' AND snr_source = 'recomputed'
    LEFT JOIN websdr_station_versions AS s ON s.websdr_id = m.websdr_id AND s.valid_during @> m.timestamp_utc
    WHERE m.timestamp_utc >= window_start AND m.timestamp_utc < window_end;
END;

-- The receivers a report lists for [window_start, window_end), as its first columns: every station
-- of stations_in_window (receiver: its last name there), plus any id that reported in the window
-- while no station had it, as 'websdr N' (station_key and receiver alike).
CREATE FUNCTION report_receivers(window_start TIMESTAMPTZ, window_end TIMESTAMPTZ)
RETURNS TABLE (websdr_id INTEGER, station_key TEXT, receiver TEXT, websdr_ids TEXT)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT s.websdr_id, s.station_key, s.name, s.websdr_ids
    FROM stations_in_window(window_start, window_end) AS s
    UNION ALL
    SELECT DISTINCT r.websdr_id, r.station_key, r.station_key, r.websdr_id::text
    FROM report_rows(window_start, window_end, 'stored') AS r
    WHERE r.unknown_id;
END;

GRANT EXECUTE ON FUNCTION upload_day_rows(TIMESTAMPTZ, TIMESTAMPTZ) TO PUBLIC;
GRANT EXECUTE ON FUNCTION stations_in_window(TIMESTAMPTZ, TIMESTAMPTZ) TO PUBLIC;
GRANT EXECUTE ON FUNCTION report_rows(TIMESTAMPTZ, TIMESTAMPTZ, TEXT) TO PUBLIC;
GRANT EXECUTE ON FUNCTION report_receivers(TIMESTAMPTZ, TIMESTAMPTZ) TO PUBLIC;
