-- Whether two float aggregates agree: both NULL, or within 1e-9 relative (absolute below 1).
-- Averages of the same values summed in another order differ in the last bits only.
CREATE FUNCTION float_close(a FLOAT8, b FLOAT8) RETURNS BOOLEAN
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN a IS NULL OR b IS NULL THEN a IS NULL AND b IS NULL
        ELSE abs(a - b) <= 1e-9 * greatest(1.0, abs(a), abs(b))
    END
$$;
