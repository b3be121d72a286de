-- The day's rows are back in measurements: the next retention run re-verifies and drops them.
UPDATE measurement_archives SET dropped_at = NULL WHERE day = %(day)s
