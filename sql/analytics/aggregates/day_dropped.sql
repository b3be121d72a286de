-- Whether the day's raw rows were archived and dropped (see sql/lifecycle/retention/): recomputing it now
-- would replace its aggregates with those of whatever few rows arrived since.
SELECT EXISTS (SELECT 1 FROM measurement_archives WHERE day = %(day)s AND dropped_at IS NOT NULL)
