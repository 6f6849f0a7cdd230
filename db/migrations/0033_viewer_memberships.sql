-- Issue 13: the order rule `order_parties` (0027) asked `organisation_member(viewer's person,
-- order's unit)` for every order assigned to a unit: a scalar SQL function whose body is a
-- sub-select is never inlined, so each call started an executor (about 17 us an order, a
-- fifth of a staff member's order list on the demo county). The viewer now carries the
-- organisations its person is a member of, found once per statement, and the rule reads
-- them like `units`. Membership keeps one definition, `member_organisations`, which
-- `organisation_member` and the viewer both read. Same answers.

-- The organisations a person is a member of: those they hold an active post in.
CREATE FUNCTION member_organisations(person bigint) RETURNS SETOF bigint
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT po.organisation_id FROM posts po WHERE po.person_id = person AND post_active(po.until) $$;

CREATE OR REPLACE FUNCTION organisation_member(person bigint, organisation bigint) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT EXISTS (SELECT 1 FROM member_organisations(person) m WHERE m = organisation) $$;

-- the organisations the viewer's person is a member of (none for an API token)
ALTER TYPE viewer ADD ATTRIBUTE member_of bigint[];

CREATE OR REPLACE FUNCTION viewer_rows(v_user bigint, v_token bigint) RETURNS SETOF viewer
LANGUAGE sql STABLE PARALLEL SAFE ROWS 1
AS $$
SELECT
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
         ELSE ARRAY[t.organisation_id] END,
    CASE WHEN t.id IS NULL THEN ARRAY(SELECT m FROM member_organisations(u.person_id) m) ELSE '{}' END
FROM (SELECT v_user AS id) me
LEFT JOIN users u ON u.id = me.id
LEFT JOIN persons p ON p.id = u.person_id
LEFT JOIN api_tokens t ON t.id = v_token
$$;

-- 0027's rule, the unit-member look-up read from the viewer (still one expression, so
-- PostgreSQL inlines it)
CREATE OR REPLACE FUNCTION order_parties(o service_order_rows, v viewer) RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE WHEN o.county_id IS DISTINCT FROM v.county_id THEN '{}'::text[] ELSE array_remove(ARRAY[
    CASE WHEN staff_of_area(o.path, v) THEN 'STAFF' END,
    CASE WHEN o.household_id = v.household_id THEN 'HOUSEHOLD' END,
    CASE WHEN v.person_id IS NOT NULL AND o.building_head = v.person_id THEN 'BUILDING_HEAD' END,
    CASE WHEN o.assignee_id = v.person_id
           OR o.assignee_unit_id = ANY(v.units)
           OR o.assignee_unit_id = ANY(v.member_of)
         THEN 'ASSIGNEE' END
], NULL) END
$$;
