-- Who may see and do what (issue 12): the domain terms the rules are made of, defined once,
-- and the visibility rules written once as functions of the viewer. Queries in db/ call
-- them; no Python copy of a rule exists. A rule returns the *reason* access is granted
-- (NULL: not granted), so that one answer serves masking, auditing and permission checks.

-- A post is active while its last day (`until`) has not passed.
CREATE FUNCTION post_active(until date) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT until IS NULL OR until >= current_date $$;

-- Active posts are now also those with a last day still to come: index them all.
CREATE INDEX posts_organisation_all ON posts (organisation_id, id);
CREATE INDEX posts_person_all ON posts (person_id);

-- A unit (机关企事业单位): what adopts areas, and where a cadre holds the post that makes
-- them a cadre. Its UNIT_ADMIN follows its cadres' pairings.
CREATE FUNCTION unit_kind(kind text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT kind IN ('GOVERNMENT_UNIT', 'ENTERPRISE', 'PUBLIC_INSTITUTION') $$;

-- An organisation a service order may be dispatched to: a unit or a service provider.
CREATE FUNCTION order_taker_kind(kind text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT unit_kind(kind) OR kind = 'SERVICE_PROVIDER' $$;

-- A member of an organisation: a person holding an active post in it.
CREATE FUNCTION organisation_member(person bigint, organisation bigint) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT EXISTS (SELECT 1 FROM posts po
               WHERE po.person_id = person AND po.organisation_id = organisation AND post_active(po.until))
$$;

-- The units a person holds an active post in (a cadre's units).
CREATE FUNCTION units_of(person bigint) RETURNS bigint[]
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT ARRAY(SELECT DISTINCT po.organisation_id FROM posts po JOIN organisations o ON o.id = po.organisation_id
             WHERE po.person_id = person AND post_active(po.until) AND unit_kind(o.kind)
             ORDER BY po.organisation_id)
$$;

-- The unit acting for an organisation: the unit itself, or the unit whose own party
-- organisation (outside the area tree) it is. NULL for anything else.
CREATE FUNCTION unit_of(organisation bigint) RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE
         WHEN unit_kind(o.kind) THEN o.id
         WHEN o.kind IN ('GENERAL_BRANCH', 'PARTY_BRANCH') AND o.area_id IS NULL AND unit_kind(parent.kind)
           THEN parent.id
       END
FROM organisations o LEFT JOIN organisations parent ON parent.id = o.parent_id
WHERE o.id = organisation
$$;

-- A building's head (楼栋长) is its current responsible person: nothing else.
CREATE FUNCTION building_head(building bigint) RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT r.person_id FROM responsibilities r WHERE r.area_id = building AND r.until IS NULL $$;

-- Whether one of `units` adopts an area on `path` (the area itself or one above it).
CREATE FUNCTION adopted_by(path bigint[], units bigint[]) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT EXISTS (SELECT 1 FROM adoptions a
               WHERE a.unit_id = ANY(units) AND a.area_id = ANY(path) AND a.until IS NULL)
$$;

-- BUILDING_HEAD role grants follow the building's head: the grants of anyone else on the
-- building go, the head's user (if they have one) gets one. Called in the transaction that
-- changes the responsibility; returns what changed, for the audit log.
CREATE FUNCTION follow_building_head(building bigint)
RETURNS TABLE (action text, user_id bigint)
LANGUAGE sql VOLATILE
AS $$
WITH head AS (
    SELECT u.id, u.county_id FROM users u WHERE u.person_id = building_head(building)
), revoked AS (
    DELETE FROM role_grants g
    WHERE g.role = 'BUILDING_HEAD' AND g.area_id = building AND g.user_id NOT IN (SELECT id FROM head)
    RETURNING g.user_id
), granted AS (
    INSERT INTO role_grants (county_id, user_id, role, area_id)
    SELECT head.county_id, head.id, 'BUILDING_HEAD', building FROM head
    ON CONFLICT DO NOTHING
    RETURNING role_grants.user_id
)
SELECT 'role.revoked', revoked.user_id FROM revoked
UNION ALL
SELECT 'role.granted', granted.user_id FROM granted
$$;

-- Existing grants follow the heads from now on.
SELECT count(*) FROM areas b, follow_building_head(b.id) WHERE b.level = 'BUILDING';

-- The viewer, as the rules see it: a signed-in user, or a partner unit's API token (which
-- acts as UNIT_ADMIN of its organisation and nothing else).
CREATE TYPE viewer AS (
    user_id      bigint,
    api_token_id bigint,
    county_id    bigint,
    county_admin boolean,
    -- staff scope: the areas where the viewer is COUNTY_ADMIN or COMMUNITY_STAFF
    staff_scope  bigint[],
    person_id    bigint,
    household_id bigint,
    -- the organisations the viewer is UNIT_ADMIN of
    units        bigint[]
);

CREATE FUNCTION viewer_of(v_user bigint, v_token bigint) RETURNS viewer
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT ROW(
    u.id, t.id, coalesce(t.county_id, u.county_id),
    t.id IS NULL AND EXISTS (SELECT 1 FROM role_grants g
                             WHERE g.user_id = u.id AND g.role = 'COUNTY_ADMIN' AND g.area_id = u.county_id),
    CASE WHEN t.id IS NULL THEN ARRAY(SELECT g.area_id FROM role_grants g
                                      WHERE g.user_id = u.id AND g.role IN ('COUNTY_ADMIN', 'COMMUNITY_STAFF'))
         ELSE '{}' END,
    CASE WHEN t.id IS NULL THEN u.person_id END,
    CASE WHEN t.id IS NULL THEN p.household_id END,
    CASE WHEN t.id IS NULL THEN ARRAY(SELECT g.organisation_id FROM role_grants g
                                      WHERE g.user_id = u.id AND g.role = 'UNIT_ADMIN')
         ELSE ARRAY[t.organisation_id] END
)::viewer
FROM (SELECT v_user AS id) me
LEFT JOIN users u ON u.id = me.id
LEFT JOIN persons p ON p.id = u.person_id
LEFT JOIN api_tokens t ON t.id = v_token
$$;

-- Why a viewer may see a pairing (Pairing node, Person.pairings, its visits), or NULL.
-- COUNTY_ADMIN; staff in scope of the household; the cadre; the head of the household's
-- building; the household's members; the UNIT_ADMIN of a unit the cadre holds an active
-- post in; the UNIT_ADMIN of a unit adopting the household's building or compound (who
-- reads the area's reports, which list such pairings).
CREATE FUNCTION pairing_access(p pairings, v viewer) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE
    WHEN p.county_id IS DISTINCT FROM v.county_id THEN NULL
    WHEN v.county_admin THEN 'COUNTY_ADMIN'
    WHEN b.path && v.staff_scope THEN 'STAFF'
    WHEN p.cadre_id = v.person_id THEN 'CADRE'
    WHEN building_head(b.id) = v.person_id THEN 'BUILDING_HEAD'
    WHEN p.household_id = v.household_id THEN 'MEMBER'
    WHEN units_of(p.cadre_id) && v.units THEN 'UNIT_ADMIN'
    WHEN adopted_by(b.path, v.units) THEN 'ADOPTING_UNIT'
END
FROM households h JOIN areas b ON b.id = h.building_id
WHERE h.id = p.household_id
$$;

-- Why a viewer may read a household's residents and their personal data, or NULL:
-- its members, COUNTY_ADMIN, staff in scope, the building's head, a cadre with an active
-- pairing with it. Never an API token.
CREATE FUNCTION household_access(h households, v viewer) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE
    WHEN v.api_token_id IS NOT NULL OR h.county_id IS DISTINCT FROM v.county_id THEN NULL
    WHEN h.id = v.household_id THEN 'MEMBER'
    WHEN v.county_admin THEN 'COUNTY_ADMIN'
    WHEN b.path && v.staff_scope THEN 'STAFF'
    WHEN building_head(h.building_id) = v.person_id THEN 'BUILDING_HEAD'
    WHEN EXISTS (SELECT 1 FROM pairings pr
                 WHERE pr.household_id = h.id AND pr.cadre_id = v.person_id AND pr.until IS NULL) THEN 'CADRE'
END
FROM areas b WHERE b.id = h.building_id
$$;

-- Why a viewer may read a person's phone, or NULL: the person themself, whoever may read
-- their household, and the residents the person serves (as a responsible person of an
-- area the viewer's household lies in, or as the household's paired cadre).
CREATE FUNCTION person_access(p persons, v viewer) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE
    WHEN v.api_token_id IS NOT NULL OR p.county_id IS DISTINCT FROM v.county_id THEN NULL
    WHEN p.id = v.person_id THEN 'SELF'
    ELSE coalesce(
        (SELECT household_access(h, v) FROM households h WHERE h.id = p.household_id),
        CASE
            WHEN EXISTS (SELECT 1 FROM responsibilities r, households vh JOIN areas a ON a.id = vh.area_id
                         WHERE vh.id = v.household_id AND r.person_id = p.id AND r.until IS NULL
                           AND r.area_id = ANY(a.path)) THEN 'SERVES_VIEWER'
            WHEN EXISTS (SELECT 1 FROM pairings pr
                         WHERE pr.cadre_id = p.id AND pr.household_id = v.household_id AND pr.until IS NULL)
              THEN 'SERVES_VIEWER'
        END)
END
$$;

-- The parties of a service order the viewer is (empty: the order is hidden from them):
-- STAFF (COUNTY_ADMIN, or COMMUNITY_STAFF in scope of the household), HOUSEHOLD (a member
-- of the ordering household), ASSIGNEE (the assigned person, a member of the assigned
-- unit, or its UNIT_ADMIN). What each party may do is the workflow table TRANSITIONS.
CREATE FUNCTION order_parties(o service_order_rows, v viewer) RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE WHEN o.county_id IS DISTINCT FROM v.county_id THEN '{}'::text[] ELSE array_remove(ARRAY[
    CASE WHEN o.path && v.staff_scope THEN 'STAFF' END,
    CASE WHEN o.household_id = v.household_id THEN 'HOUSEHOLD' END,
    CASE WHEN o.assignee_id = v.person_id
           OR o.assignee_unit_id = ANY(v.units)
           OR organisation_member(v.person_id, o.assignee_unit_id) THEN 'ASSIGNEE' END
], NULL) END
$$;

-- Why a viewer may see a dual registration (双报到), or NULL: COUNTY_ADMIN and staff in
-- scope of the community (STAFF: they confirm or reject it), the registrant, and the
-- UNIT_ADMIN of the unit acting for the registered organisation.
CREATE FUNCTION registration_access(r registrations, v viewer) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE
    WHEN r.county_id IS DISTINCT FROM v.county_id THEN NULL
    WHEN c.path && v.staff_scope THEN 'STAFF'
    WHEN r.person_id = v.person_id THEN 'REGISTRANT'
    WHEN unit_of(r.organisation_id) = ANY(v.units) THEN 'UNIT_ADMIN'
END
FROM areas c WHERE c.id = r.community_id
$$;

-- Why a viewer may see a meeting and its resolutions, or NULL: staff in scope of its
-- community (STAFF: they run it), the UNIT_ADMIN of a participating organisation.
CREATE FUNCTION meeting_access(m meetings, v viewer) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE
    WHEN m.county_id IS DISTINCT FROM v.county_id THEN NULL
    WHEN c.path && v.staff_scope THEN 'STAFF'
    WHEN EXISTS (SELECT 1 FROM meeting_organisations mo
                 WHERE mo.meeting_id = m.id AND mo.organisation_id = ANY(v.units)) THEN 'PARTICIPANT'
END
FROM areas c WHERE c.id = m.community_id
$$;
