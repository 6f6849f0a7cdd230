-- Issue 12, continued: one visibility rule per remaining node type, written once as a
-- function of the viewer (`viewer_of`, 0010_authorization). Lists, nested connections,
-- node()/nodes(), mutations (their FOR UPDATE reads) and exports call these; no Python copy
-- of a rule exists. A rule returns the reason access is granted (NULL: hidden), or a
-- boolean where the type holds no personal data.

-- A viewer who works in the county: holds any role but RESIDENT (county admin, community
-- staff, building head, cadre, unit admin), or is a partner unit's API token.
CREATE FUNCTION works_in_county(v viewer) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT v.api_token_id IS NOT NULL
    OR EXISTS (SELECT 1 FROM role_grants g WHERE g.user_id = v.user_id AND g.role <> 'RESIDENT')
$$;

-- The areas a viewer lives in: their RESIDENT grants' areas and their household's building,
-- with every area above them (a path each).
CREATE FUNCTION home_areas(v viewer) RETURNS bigint[]
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT ARRAY(
    SELECT unnest(a.path) FROM role_grants g JOIN areas a ON a.id = g.area_id
    WHERE v.api_token_id IS NULL AND g.user_id = v.user_id AND g.role = 'RESIDENT'
    UNION
    SELECT unnest(b.path) FROM households h JOIN areas b ON b.id = h.building_id WHERE h.id = v.household_id)
$$;

-- Why a viewer may see a resource (双向清单), or NULL: whoever works in the county sees all
-- of its resources (COUNTY); a resident those open to a community they live in (HOME).
CREATE FUNCTION resource_access(r resources, v viewer) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE
    WHEN r.county_id IS DISTINCT FROM v.county_id THEN NULL
    WHEN works_in_county(v) THEN 'COUNTY'
    WHEN EXISTS (SELECT 1 FROM resource_communities rc
                 WHERE rc.resource_id = r.id AND rc.community_id = ANY(home_areas(v))) THEN 'HOME'
END
$$;

-- Whether a viewer may see a need: whoever works in the county; residents none.
CREATE FUNCTION need_access(n needs, v viewer) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT n.county_id = v.county_id AND works_in_county(v) $$;

-- Whether a viewer may see an exchange: as its need.
CREATE FUNCTION exchange_access(e exchanges, v viewer) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT e.county_id = v.county_id AND works_in_county(v) $$;

-- Whether a viewer may see a renovation project: every signed-in user of the county
-- (residents follow the works on their compound).
CREATE FUNCTION renovation_access(r renovations, v viewer) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT r.county_id = v.county_id $$;

-- Whether a viewer may see an activity: every signed-in user of the county.
CREATE FUNCTION activity_access(a activities, v viewer) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT a.county_id = v.county_id $$;

-- Why a viewer may manage an activity (its sign-ups, attendance), or NULL: staff in scope of
-- its community (STAFF), the UNIT_ADMIN of one of its hosts (HOST).
CREATE FUNCTION activity_manager(a activities, v viewer) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE
    WHEN a.county_id IS DISTINCT FROM v.county_id THEN NULL
    WHEN c.path && v.staff_scope THEN 'STAFF'
    WHEN EXISTS (SELECT 1 FROM activity_hosts ah
                 WHERE ah.activity_id = a.id AND ah.organisation_id = ANY(v.units)) THEN 'HOST'
END
FROM areas c WHERE c.id = a.community_id
$$;

-- Why a viewer may see a sign-up, or NULL: the person signed up (SELF), whoever manages the
-- activity (STAFF, HOST).
CREATE FUNCTION signup_access(s signups, v viewer) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE
    WHEN s.county_id IS DISTINCT FROM v.county_id THEN NULL
    WHEN s.person_id = v.person_id THEN 'SELF'
    ELSE (SELECT activity_manager(a, v) FROM activities a WHERE a.id = s.activity_id)
END
$$;

-- A finding is published (通报曝光) once its deadline passed unrectified, or when it was
-- rectified only after its deadline; `zone` is the county's time zone.
CREATE FUNCTION finding_published(f findings, zone text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE WHEN f.rectified_at IS NULL THEN f.deadline < (now() AT TIME ZONE zone)::date
            ELSE (f.rectified_at AT TIME ZONE zone)::date > f.deadline END
$$;

-- Why a viewer may see a finding, or NULL: staff in scope of its compound (STAFF), every
-- user of the county once it is published (PUBLISHED).
CREATE FUNCTION finding_access(f findings, v viewer, zone text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE
    WHEN f.county_id IS DISTINCT FROM v.county_id THEN NULL
    WHEN c.path && v.staff_scope THEN 'STAFF'
    WHEN finding_published(f, zone) THEN 'PUBLISHED'
END
FROM areas c WHERE c.id = f.compound_id
$$;

-- Why a viewer may see a partner unit's API token, or NULL: COUNTY_ADMIN of its county, the
-- UNIT_ADMIN of its organisation (UNIT_ADMIN; a token sees its unit's tokens).
CREATE FUNCTION api_token_access(t api_tokens, v viewer) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE
    WHEN t.county_id IS DISTINCT FROM v.county_id THEN NULL
    WHEN v.county_admin THEN 'COUNTY_ADMIN'
    WHEN t.organisation_id = ANY(v.units) THEN 'UNIT_ADMIN'
END
$$;

-- Whether a viewer may read an audit entry: the COUNTY_ADMIN of its county.
CREATE FUNCTION audit_access(a audit_log, v viewer) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT coalesce(v.county_admin AND a.county_id = v.county_id, false) $$;

-- Whether a viewer may read a notification: the user it is for (never an API token).
CREATE FUNCTION notification_access(n notifications, v viewer) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT v.api_token_id IS NULL AND n.user_id = v.user_id $$;

-- Why a viewer may see a user account, or NULL: COUNTY_ADMIN of its county, staff in scope of
-- where its person lives (STAFF), the user themself (SELF, not through an API token). The
-- rule of node(User); `users` lists the accounts a viewer manages (every reason but SELF).
CREATE FUNCTION user_access(u users, v viewer) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE
    WHEN u.county_id IS DISTINCT FROM v.county_id THEN NULL
    WHEN v.county_admin THEN 'COUNTY_ADMIN'
    WHEN EXISTS (SELECT 1 FROM persons pe JOIN households hh ON hh.id = pe.household_id
                 JOIN areas b ON b.id = hh.building_id
                 WHERE pe.id = u.person_id AND b.path && v.staff_scope) THEN 'STAFF'
    WHEN u.id = v.user_id AND v.api_token_id IS NULL THEN 'SELF'
END
$$;
