-- Receivers change over time. Heimdall numbers its receivers by their position in the list of
-- ACTIVE stations: deactivating station 3 makes the old 4 the new 3, 5 the new 4, and so on. A
-- fixed id -> name map then names the wrong receiver for new data, so the list gets validity:
-- websdr_station_versions says, for each period, which station an id meant; the change log says
-- who changed what when. `heimdall-stations sync` maintains both from the operator's file.

-- The exclusion constraints compare integers and text with = inside a GiST index.
-- btree_gist is a trusted contrib extension: the database owner may create it.
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE websdr_station_versions (
    version_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The station's identity through renumbering, renames and edits (the operator's file names it).
    station_key TEXT NOT NULL CHECK (station_key ~ '^[a-z0-9][a-z0-9-]*$'),
    -- Heimdall's number for the station during this period: its position among the active
    -- stations. NULL while the station is inactive (Heimdall gives it no number then).
    websdr_id INTEGER CHECK (websdr_id > 0),
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    location TEXT NOT NULL,
    latitude FLOAT8 NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude FLOAT8 NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    bands TEXT[] NOT NULL,
    active BOOLEAN NOT NULL,
    timeout_seconds INTEGER NOT NULL CHECK (timeout_seconds > 0),
    retry_count INTEGER NOT NULL CHECK (retry_count >= 0),
    -- [from, to): the version holds from its change until the next one (upper infinity = current).
    valid_during TSTZRANGE NOT NULL CHECK (NOT isempty(valid_during) AND lower_inc(valid_during) AND NOT upper_inc(valid_during)),
    CHECK (active = (websdr_id IS NOT NULL)),
    -- An id never means two stations at once, and a station has one version at a time.
    CONSTRAINT websdr_id_means_one_station_at_a_time EXCLUDE USING gist (websdr_id WITH =, valid_during WITH &&),
    CONSTRAINT one_version_of_a_station_at_a_time EXCLUDE USING gist (station_key WITH =, valid_during WITH &&)
);

-- Every change the sync made (and the seed below): one row per station and kind of change.
CREATE TABLE websdr_station_changes (
    change_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- When the change took effect: the boundary between the station's two versions.
    effective_at TIMESTAMPTZ NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Who: the operator the sync names (--by, else the OS user), and the database role it ran as.
    recorded_by TEXT NOT NULL,
    database_role TEXT NOT NULL DEFAULT current_user,
    source TEXT NOT NULL,
    change TEXT NOT NULL CHECK (change IN ('added', 'removed', 'deactivated', 'reactivated', 'renumbered', 'edited')),
    station_key TEXT NOT NULL,
    websdr_id_before INTEGER,
    websdr_id_after INTEGER,
    -- What: for 'edited', {"field": [before, after], ...}; otherwise the fields that matter to it.
    details JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX idx_websdr_station_changes_effective ON websdr_station_changes (effective_at);

-- The seven receivers of today are the first version, valid from -infinity: they are the only
-- list this pipeline has known, so every measurement already stored (and any archived day
-- restored later) keeps a name. A stated start date would leave older data nameless.
INSERT INTO websdr_station_versions
    (station_key, websdr_id, name, url, location, latitude, longitude, bands, active, timeout_seconds, retry_count, valid_during)
SELECT lower(regexp_replace(regexp_replace(name, '[^A-Za-z0-9]+', '-', 'g'), '^-|-$', '', 'g')),
       id, name, url, location, latitude, longitude, bands, active, timeout_seconds, retry_count,
       tstzrange('-infinity', 'infinity', '[)')
FROM websdr_stations
ORDER BY id;

INSERT INTO websdr_station_changes (effective_at, recorded_by, source, change, station_key, websdr_id_after, details)
SELECT '-infinity', 'migration 0016', 'sql/migrations/0002_websdr_stations.sql', 'added', station_key, websdr_id,
       jsonb_build_object('name', name)
FROM websdr_station_versions
ORDER BY websdr_id;

-- websdr_stations stays, as the list as it is now: Heimdall's numbering of today, one row per
-- active station, the columns 0002 had (plus station_key). Anything that maps an id in the data
-- to a station joins websdr_station_versions on the id AND the measurement's time instead.
DROP TABLE websdr_stations;
CREATE VIEW websdr_stations AS
SELECT websdr_id AS id, name, url, location, latitude, longitude, bands, active, timeout_seconds, retry_count, station_key
FROM websdr_station_versions
WHERE websdr_id IS NOT NULL AND valid_during @> now();
