-- An empty copy of measurements_hourly (same columns, same primary key) for the bare baseline.
DROP TABLE IF EXISTS bare_hourly;
CREATE TABLE bare_hourly (LIKE measurements_hourly INCLUDING ALL);
