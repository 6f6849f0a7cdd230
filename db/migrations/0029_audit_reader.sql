-- Issue 12, one rule written once: `auditLog` refused whoever is not COUNTY_ADMIN by a role
-- check in Python (the field's permission class) while its entries were filtered by
-- `audit_access` (0021). Who reads the audit log is now `audit_reader`, and `audit_access`
-- is written on it; the field asks `audit_reader` in the statement that reads the page.

-- Whether a viewer reads the audit log at all: COUNTY_ADMIN (of their county: the entries say
-- which county they are of).
CREATE FUNCTION audit_reader(v viewer) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT coalesce(v.county_admin, false) $$;

CREATE OR REPLACE FUNCTION audit_access(a audit_log, v viewer) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT coalesce(audit_reader(v) AND a.county_id = v.county_id, false) $$;
