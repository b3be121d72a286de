-- The functions our migrations created (owned by the migrating role, not part of an extension),
-- as regprocedure text for GRANT EXECUTE ON FUNCTION.
SELECT p.oid::regprocedure::text
FROM pg_proc p
WHERE p.pronamespace = %(schema)s::regnamespace
  AND p.proowner = current_user::regrole
  AND NOT EXISTS (
      SELECT FROM pg_depend d
      WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
  )
ORDER BY 1
