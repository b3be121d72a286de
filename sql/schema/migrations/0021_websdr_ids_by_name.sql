-- Heimdall numbers its receivers by enumerating its ACTIVE stations ordered by name
-- (get_active_websdrs() and get_websdrs_config()): Aquila di Giaveno 1, Coazze 2, Genova 3,
-- Milano - Baggio 4, Montanaro 5, Passo del Giovi 6, Torino 7. It has since fulgidus/heimdall
-- 19a828a (2025-10-27 22:59:07 UTC), which replaced the router's hard-coded list, numbered in its
-- own order (the order 0002 seeded: Torino 3), by its table. So the seed's ids keep what they
-- meant until that moment, and the name-ordered ids hold from it on: measurements of the seed's
-- era keep their stations' names, later ones get Heimdall's. 0016's seed is not edited: applied
-- migrations are immutable, and a dated version is what the list is for.
--
-- Names in code-point order (COLLATE "C"), as heimdall-stations numbers a file, and as Heimdall's
-- stock database (timescale/timescaledb, Alpine: en_US.utf8 compares byte by byte) sorts them.
--
-- A list changed at or after that moment is the operator's, and is left as it is (a NOTICE says
-- so): `heimdall-stations sync --from-heimdall-db` renumbers it from the time it is run.
DO $$
DECLARE
    cut_over CONSTANT timestamptz := '2025-10-27 22:59:07+00';
    last_change timestamptz;
    moved BIGINT[];
    new_ids INTEGER[];
BEGIN
    -- The lock heimdall-stations sync takes: no sync in between.
    LOCK TABLE websdr_station_versions IN SHARE ROW EXCLUSIVE MODE;
    SELECT greatest(max(nullif(lower(valid_during), '-infinity')), max(nullif(upper(valid_during), 'infinity')))
    INTO last_change
    FROM websdr_station_versions;
    IF last_change >= cut_over THEN
        RAISE NOTICE 'receiver list changed at %, after Heimdall began numbering by name (%): left as it is; renumber it with heimdall-stations sync --from-heimdall-db',
            last_change, cut_over;
        RETURN;
    END IF;

    SELECT array_agg(version_id ORDER BY by_name), array_agg(by_name ORDER BY by_name)
    INTO moved, new_ids
    FROM (
        SELECT version_id, websdr_id, row_number() OVER (ORDER BY name COLLATE "C") AS by_name
        FROM websdr_station_versions
        WHERE upper(valid_during) = 'infinity' AND active
    ) AS open_active
    WHERE by_name <> websdr_id;

    -- Close first, then open: the exclusion constraints never see an id held twice.
    UPDATE websdr_station_versions
    SET valid_during = tstzrange(lower(valid_during), cut_over, '[)')
    WHERE version_id = ANY(moved);

    INSERT INTO websdr_station_versions
        (station_key, websdr_id, name, url, location, latitude, longitude, bands, active, timeout_seconds, retry_count, valid_during)
    SELECT v.station_key, r.websdr_id, v.name, v.url, v.location, v.latitude, v.longitude, v.bands, v.active,
           v.timeout_seconds, v.retry_count, tstzrange(cut_over, 'infinity', '[)')
    FROM websdr_station_versions AS v
    JOIN unnest(moved, new_ids) AS r(version_id, websdr_id) USING (version_id)
    ORDER BY r.websdr_id;

    INSERT INTO websdr_station_changes
        (effective_at, recorded_by, source, change, station_key, websdr_id_before, websdr_id_after, details)
    SELECT cut_over, 'migration 0021', 'sql/schema/migrations/0021_websdr_ids_by_name.sql', 'renumbered',
           v.station_key, v.websdr_id, r.websdr_id, jsonb_build_object('name', v.name)
    FROM websdr_station_versions AS v
    JOIN unnest(moved, new_ids) AS r(version_id, websdr_id) USING (version_id)
    ORDER BY r.websdr_id;
END
$$;
