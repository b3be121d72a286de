"""Heimdall's station table as its db/01-init.sql (fulgidus/heimdall c2be497) lays it out, in its
own schema `heimdall`: for the tests that put Heimdall's tables beside ours or read its stations.
gen_random_uuid() stands in for uuid-ossp's uuid_generate_v4()."""

HEIMDALL_WEBSDR_STATIONS = """
CREATE SCHEMA heimdall;
CREATE TABLE heimdall.websdr_stations (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name VARCHAR(255) NOT NULL UNIQUE,
    url VARCHAR(512) NOT NULL,
    country VARCHAR(100),
    latitude FLOAT NOT NULL,
    longitude FLOAT NOT NULL,
    frequency_min_hz BIGINT,
    frequency_max_hz BIGINT,
    is_active BOOLEAN DEFAULT TRUE,
    api_type VARCHAR(50) DEFAULT 'http',
    rate_limit_ms INTEGER DEFAULT 1000,
    timeout_seconds INTEGER DEFAULT 30,
    retry_count INTEGER DEFAULT 3,
    admin_email VARCHAR(255),
    location_description TEXT,
    altitude_asl INTEGER,
    notes TEXT,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);
"""
