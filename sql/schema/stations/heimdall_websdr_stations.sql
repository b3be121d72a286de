-- Heimdall's receivers, active ones first in the order Heimdall numbers them: its
-- get_active_websdrs() is `WHERE is_active ORDER BY name`, so a NULL is_active is not active and
-- the names sort by the column's collation in Heimdall's own database, exactly as Heimdall's query
-- sorts them. Whole rows as JSON: the table's layout has grown over Heimdall's history
-- (retry_count and location_description came in 2025-10), and a column it lacks takes Heimdall's default.
SELECT to_jsonb(station)
FROM {table} AS station
ORDER BY station.is_active IS TRUE DESC, station.name
LIMIT %(limit)s
