-- Issue 12, the last checks made in Python: who manages accounts (createUser, grantRole,
-- revokeRole, disableUser) and who attaches photos and files, as functions of the viewer
-- (`viewer_of`, 0010_authorization), called in the statement that reads (and, for an
-- account that changes, locks) the target. And staff scope written once: the rules of
-- 0010, 0012, 0020, 0021 and 0023 that tested `path && v.staff_scope` inline now call
-- `staff_of_area` (0023), their answers unchanged. (Not here: `household_access` and
-- `finding_access`, redefined by the read paths' own migrations.)

-- Where a person lives: the path (county down to the building) of their household's
-- building; NULL without a household.
CREATE FUNCTION home_path(person bigint) RETURNS bigint[]
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT b.path FROM persons pe JOIN households h ON h.id = pe.household_id JOIN areas b ON b.id = h.building_id
WHERE pe.id = home_path.person
$$;

-- --- accounts ---------------------------------------------------------------------------------

-- Who manages accounts at all: COUNTY_ADMIN and COMMUNITY_STAFF (a staff scope somewhere),
-- signed in as themselves (never an API token).
CREATE FUNCTION account_manager(v viewer) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT v.api_token_id IS NULL AND coalesce(cardinality(v.staff_scope) > 0, false) $$;

-- What staff could grant themselves: RESIDENT, or BUILDING_HEAD (which follows the building's
-- responsible person), on an area of their scope (`path`: the area's; NULL for an
-- organisation, which staff never grant in).
CREATE FUNCTION staff_grantable(role text, path bigint[], v viewer) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
SELECT staff_grantable.role IN ('RESIDENT', 'BUILDING_HEAD') AND staff_of_area(staff_grantable.path, v)
$$;

-- Who grants (and revokes) `role` in a scope of their county (`scope_path`: the area's path,
-- NULL for an organisation): COUNTY_ADMIN any role, staff RESIDENT on areas of their scope.
-- Nobody grants BUILDING_HEAD by hand: it follows the building's responsible person.
CREATE FUNCTION may_grant(role text, scope_path bigint[], v viewer) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
SELECT may_grant.role <> 'BUILDING_HEAD' AND account_manager(v)
   AND (v.county_admin OR staff_grantable(may_grant.role, may_grant.scope_path, v))
$$;

-- Who manages an account (grants, revokes, disables): an account manager, never their own
-- account; COUNTY_ADMIN any other of the county; staff the account of a person living in
-- their scope who holds nothing staff could not grant (not a county admin living there).
CREATE FUNCTION manages_account(u users, v viewer) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT coalesce(u.county_id = v.county_id AND u.id IS DISTINCT FROM v.user_id, false) AND account_manager(v)
   AND (v.county_admin
        OR (staff_of_area(home_path(u.person_id), v)
            AND NOT EXISTS (SELECT 1 FROM role_grants g LEFT JOIN areas a ON a.id = g.area_id
                            WHERE g.user_id = u.id AND NOT staff_grantable(g.role, a.path, v))))
$$;

-- Who creates an account for a person of the county (`person`; NULL: an account of no
-- person): COUNTY_ADMIN; staff for a person living in their scope.
CREATE FUNCTION creates_account_for(person bigint, v viewer) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT account_manager(v) AND (v.county_admin OR staff_of_area(home_path(creates_account_for.person), v))
$$;

-- --- attachments ------------------------------------------------------------------------------

-- Who attaches photos and files to a subject (`subject_type`, `subject` its id): whoever
-- takes part in it, signed in as themself: a party of a service order (`order_parties`),
-- staff of a finding's compound, the cadre of a visit's pairing (`paired_cadre`). Each
-- implies that the viewer sees the subject.
CREATE FUNCTION may_attach(subject_type text, subject bigint, v viewer) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT v.api_token_id IS NULL AND CASE may_attach.subject_type
    WHEN 'ServiceOrder' THEN EXISTS (SELECT 1 FROM service_order_rows o
                                     WHERE o.id = may_attach.subject AND order_parties(o, v) <> '{}')
    WHEN 'Finding' THEN EXISTS (SELECT 1 FROM findings f JOIN areas c ON c.id = f.compound_id
                                WHERE f.id = may_attach.subject AND f.county_id = v.county_id
                                  AND staff_of_area(c.path, v))
    WHEN 'Visit' THEN EXISTS (SELECT 1 FROM visits vi JOIN pairings p ON p.id = vi.pairing_id
                              WHERE vi.id = may_attach.subject AND paired_cadre(p, v))
    ELSE false
END
$$;

-- --- staff scope, once: the earlier rules on `staff_of_area` (same answers) --------------------

-- 0010_authorization
CREATE OR REPLACE FUNCTION pairing_access(p pairings, v viewer) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE
    WHEN p.county_id IS DISTINCT FROM v.county_id THEN NULL
    WHEN v.county_admin THEN 'COUNTY_ADMIN'
    WHEN staff_of_area(b.path, v) THEN 'STAFF'
    WHEN p.cadre_id = v.person_id THEN 'CADRE'
    WHEN building_head(b.id) = v.person_id THEN 'BUILDING_HEAD'
    WHEN p.household_id = v.household_id THEN 'MEMBER'
    WHEN units_of(p.cadre_id) && v.units THEN 'UNIT_ADMIN'
    WHEN adopted_by(b.path, v.units) THEN 'ADOPTING_UNIT'
END
FROM households h JOIN areas b ON b.id = h.building_id
WHERE h.id = p.household_id
$$;

-- 0010_authorization
CREATE OR REPLACE FUNCTION meeting_access(m meetings, v viewer) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE
    WHEN m.county_id IS DISTINCT FROM v.county_id THEN NULL
    WHEN staff_of_area(c.path, v) THEN 'STAFF'
    WHEN EXISTS (SELECT 1 FROM meeting_organisations mo
                 WHERE mo.meeting_id = m.id AND mo.organisation_id = ANY(v.units)) THEN 'PARTICIPANT'
END
FROM areas c WHERE c.id = m.community_id
$$;

-- 0012_finding_parties
CREATE OR REPLACE FUNCTION registration_access(r registrations, v viewer) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE
    WHEN r.county_id IS DISTINCT FROM v.county_id THEN NULL
    WHEN staff_of_area(c.path, v) THEN 'STAFF'
    WHEN r.person_id = v.person_id THEN 'REGISTRANT'
    WHEN unit_of(r.organisation_id) = ANY(v.units) THEN 'UNIT_ADMIN'
    WHEN EXISTS (SELECT 1 FROM unnest(v.units) u WHERE organisation_member(r.person_id, u)) THEN 'UNIT_ADMIN'
END
FROM areas c WHERE c.id = r.community_id
$$;

-- 0020_access_changes_and_order_lists (still one expression, so PostgreSQL inlines it)
CREATE OR REPLACE FUNCTION order_parties(o service_order_rows, v viewer) RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE WHEN o.county_id IS DISTINCT FROM v.county_id THEN '{}'::text[] ELSE array_remove(ARRAY[
    CASE WHEN staff_of_area(o.path, v) THEN 'STAFF' END,
    CASE WHEN o.household_id = v.household_id THEN 'HOUSEHOLD' END,
    CASE WHEN v.person_id IS NOT NULL AND o.building_head = v.person_id THEN 'BUILDING_HEAD' END,
    CASE WHEN o.assignee_id = v.person_id
           OR o.assignee_unit_id = ANY(v.units)
           OR (o.assignee_unit_id IS NOT NULL AND organisation_member(v.person_id, o.assignee_unit_id))
         THEN 'ASSIGNEE' END
], NULL) END
$$;

-- 0021_node_rules
CREATE OR REPLACE FUNCTION activity_manager(a activities, v viewer) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE
    WHEN a.county_id IS DISTINCT FROM v.county_id THEN NULL
    WHEN staff_of_area(c.path, v) THEN 'STAFF'
    WHEN EXISTS (SELECT 1 FROM activity_hosts ah
                 WHERE ah.activity_id = a.id AND ah.organisation_id = ANY(v.units)) THEN 'HOST'
END
FROM areas c WHERE c.id = a.community_id
$$;

-- 0021_node_rules: staff of where the account's person lives (`home_path`)
CREATE OR REPLACE FUNCTION user_access(u users, v viewer) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE
    WHEN u.county_id IS DISTINCT FROM v.county_id THEN NULL
    WHEN v.county_admin THEN 'COUNTY_ADMIN'
    WHEN staff_of_area(home_path(u.person_id), v) THEN 'STAFF'
    WHEN u.id = v.user_id AND v.api_token_id IS NULL THEN 'SELF'
END
$$;

-- 0023_may_act: staff of where the person lives (`home_path`)
CREATE OR REPLACE FUNCTION volunteer_hours_reader(p persons, v viewer) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT coalesce(p.county_id = v.county_id, false)
   AND (p.id = v.person_id OR v.county_admin OR staff_of_area(home_path(p.id), v))
$$;
