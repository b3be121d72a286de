SHOW timescaledb.license
