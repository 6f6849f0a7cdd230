-- Issue 13: the viewer (`viewer_of`, 0010_authorization) as SQL PostgreSQL can inline. A
-- scalar SQL function with a FROM clause is never inlined: every call starts an executor
-- for its body and plans it again, about 0.7 ms of a compiled read's 2 ms. A set-returning
-- SQL function whose body is one SELECT is inlined where it is read from FROM
-- (`FROM viewer_rows($1, $2) v`), so the viewer's look-ups become part of the calling
-- statement's plan (as 0025 did for the personal-data rules). The rule's text moves here
-- unchanged; `viewer_of` keeps its signature and answers and reads the inlinable form.

-- The viewer, as the rules see it: one row, of a signed-in user or of a partner unit's API
-- token (0010: the user's county, COUNTY_ADMIN, staff scope, person, household and units).
CREATE FUNCTION viewer_rows(v_user bigint, v_token bigint) RETURNS SETOF viewer
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
         ELSE ARRAY[t.organisation_id] END
FROM (SELECT v_user AS id) me
LEFT JOIN users u ON u.id = me.id
LEFT JOIN persons p ON p.id = u.person_id
LEFT JOIN api_tokens t ON t.id = v_token
$$;

-- The scalar form, as the ordinary path's statements call it: the same answer.
CREATE OR REPLACE FUNCTION viewer_of(v_user bigint, v_token bigint) RETURNS viewer
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT v FROM viewer_rows(v_user, v_token) v $$;
