-- Issue 13: the personal-data rules of 0010 (`household_access`, `person_access`) as SQL
-- PostgreSQL can inline. A scalar SQL function with a FROM clause is never inlined: every
-- call starts an executor for its body, and a rule it calls (person_access called
-- household_access) is planned again on every call, about 0.5-0.9 ms per row. A
-- set-returning SQL function whose body is one SELECT is inlined where it is read from
-- FROM (`(SELECT r FROM household_reason(h, v) r)`), so the rule becomes part of the
-- calling statement's plan. The rules' text moves here unchanged; `household_access` and
-- `person_access` keep their signatures and answers and read the inlinable forms.

-- Why a viewer may read a household's residents and their personal data: one row, the
-- reason or NULL (no row when the household's building is missing). The rule of
-- household_access (0010): its members, COUNTY_ADMIN, staff in scope, the building's head,
-- a cadre with an active pairing with it. Never an API token.
CREATE FUNCTION household_reason(h households, v viewer) RETURNS SETOF text
LANGUAGE sql STABLE PARALLEL SAFE ROWS 1
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

-- Why a viewer may read a person's phone: one row, the reason or NULL. The rule of
-- person_access (0010): the person themself, whoever may read their household, and the
-- residents the person serves (as a responsible person of an area the viewer's household
-- lies in, or as the household's paired cadre).
CREATE FUNCTION person_reason(p persons, v viewer) RETURNS SETOF text
LANGUAGE sql STABLE PARALLEL SAFE ROWS 1
AS $$
SELECT CASE
    WHEN v.api_token_id IS NOT NULL OR p.county_id IS DISTINCT FROM v.county_id THEN NULL
    WHEN p.id = v.person_id THEN 'SELF'
    ELSE coalesce(
        (SELECT hr FROM households h, household_reason(h, v) hr WHERE h.id = p.household_id),
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

-- The scalar rules, as the ordinary path's statements call them: the same answers.
CREATE OR REPLACE FUNCTION household_access(h households, v viewer) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT r FROM household_reason(h, v) r $$;

CREATE OR REPLACE FUNCTION person_access(p persons, v viewer) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT r FROM person_reason(p, v) r $$;
