-- Blocks inserts (not reads) until the drop commits: no row can land in the day between the
-- last comparison with the archive and the drop.
LOCK TABLE measurements IN SHARE MODE
