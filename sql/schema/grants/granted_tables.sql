-- Per table of our schema (HEIMDALL_DB_SCHEMA), the privileges a role holds on it (for the grants' report line).
SELECT c.relname,
       array_remove(ARRAY[
           CASE WHEN has_table_privilege(%(role)s, c.oid, 'SELECT') THEN 'SELECT' END,
           CASE WHEN has_table_privilege(%(role)s, c.oid, 'INSERT') THEN 'INSERT' END,
           CASE WHEN has_table_privilege(%(role)s, c.oid, 'UPDATE') THEN 'UPDATE' END,
           CASE WHEN has_table_privilege(%(role)s, c.oid, 'DELETE') THEN 'DELETE' END
       ], NULL) AS privileges
FROM pg_class c
WHERE c.relnamespace = %(schema)s::regnamespace AND c.relkind IN ('r', 'p', 'v')
ORDER BY c.relname
