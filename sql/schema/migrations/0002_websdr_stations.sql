-- The seven Heimdall receivers (shared/heimdall/receivers.csv), so reports can name them
-- and checks can tell which receivers are expected.
CREATE TABLE websdr_stations (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    location TEXT NOT NULL,
    latitude FLOAT8 NOT NULL,
    longitude FLOAT8 NOT NULL,
    bands TEXT[] NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    timeout_seconds INTEGER NOT NULL DEFAULT 30,
    retry_count INTEGER NOT NULL DEFAULT 3
);

INSERT INTO websdr_stations (id, name, url, location, latitude, longitude, bands, active, timeout_seconds, retry_count) VALUES
    (1, 'Aquila di Giaveno', 'http://sdr1.ik1jns.it:8076/', 'Giaveno, Italy', 45.02, 7.29, '{144-146,430-440}', TRUE, 30, 3),
    (2, 'Montanaro', 'http://cbfenis.ddns.net:43510/', 'Montanaro, Italy', 45.234, 7.857, '{144-146,430-440}', TRUE, 30, 3),
    (3, 'Torino', 'http://vst-aero.it:8073/', 'Torino, Italy', 45.044, 7.672, '{144-146,430-440}', TRUE, 30, 3),
    (4, 'Coazze', 'http://94.247.189.130:8076/', 'Coazze, Italy', 45.03, 7.27, '{144-146,430-440}', TRUE, 30, 3),
    (5, 'Passo del Giovi', 'http://iz1mlt.ddns.net:8074/', 'Passo del Giovi, Italy', 44.561, 8.956, '{144-146,430-440}', TRUE, 30, 3),
    (6, 'Genova', 'http://iq1zw.ddns.net:42154/', 'Genova, Italy', 44.395, 8.956, '{144-146,430-440}', TRUE, 30, 3),
    (7, 'Milano - Baggio', 'http://iu2mch.duckdns.org:8073/', 'Milano (Baggio), Italy', 45.478, 9.123, '{144-146,430-440}', TRUE, 30, 3);
