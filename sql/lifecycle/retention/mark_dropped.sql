UPDATE measurement_archives SET dropped_at = now() WHERE day = %(day)s
