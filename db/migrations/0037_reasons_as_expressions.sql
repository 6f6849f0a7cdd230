-- Issue 13: the personal-data rules a compiled read asks for every row (a building's office,
-- a household's reason given its building's office, a person's reason given their household's)
-- become scalar SQL functions with neither FROM nor sub-select, which PostgreSQL inlines as an
-- expression: a CASE over the row and the viewer, asked where it is written, with no sub-plan
-- started per row. What needs a table (is the viewer this household's cadre? does this person
-- serve the viewer's household?) moves into PL/pgSQL helpers, called only where the CASE
-- gets that far (a viewer who serves the place by office never does) and planned once a
-- session. `building_office_reason`, `household_reason` and `person_reason` keep their
-- signatures and answers, each now the one row of its expression, so both paths still read one
-- text of each rule; the `_at` forms of 0032, which the expressions replace, are dropped.

-- Whether `cadre` has an active pairing with the household.
CREATE FUNCTION cadre_of(household bigint, cadre bigint) RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM pairings pr
                   WHERE pr.household_id = cadre_of.household AND pr.cadre_id = cadre_of.cadre AND pr.until IS NULL);
END
$$;

-- Whether a person serves the viewer's household: responsible for a place on its path, or a
-- cadre paired with it.
CREATE FUNCTION serves_household(person bigint, household bigint) RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM responsibilities r, households vh JOIN areas a ON a.id = vh.area_id
                   WHERE vh.id = serves_household.household AND r.person_id = serves_household.person
                     AND r.until IS NULL AND r.area_id = ANY(a.path))
        OR EXISTS (SELECT 1 FROM pairings pr
                   WHERE pr.cadre_id = serves_household.person AND pr.household_id = serves_household.household
                     AND pr.until IS NULL);
END
$$;

-- Why a viewer serves a building (a row of `areas`) by office: COUNTY_ADMIN of its county,
-- STAFF in scope, its current responsible person as BUILDING_HEAD; never an API token.
CREATE FUNCTION building_office_of(b areas, v viewer) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE
    WHEN v.api_token_id IS NOT NULL OR b.county_id IS DISTINCT FROM v.county_id THEN NULL
    WHEN v.county_admin THEN 'COUNTY_ADMIN'
    WHEN staff_of_area(b.path, v) THEN 'STAFF'
    WHEN building_head(b.id) = v.person_id THEN 'BUILDING_HEAD'
END
$$;

-- Why a viewer may read a household's residents, given `office`, the reason the viewer serves
-- the household's building by office (or NULL).
CREATE FUNCTION household_reason_of(h households, v viewer, office text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE
    WHEN v.api_token_id IS NOT NULL OR h.county_id IS DISTINCT FROM v.county_id THEN NULL
    WHEN h.id = v.household_id THEN 'MEMBER'
    ELSE coalesce(office, CASE WHEN v.person_id IS NOT NULL AND cadre_of(h.id, v.person_id) THEN 'CADRE' END)
END
$$;

-- Why a viewer may read a person's phone, given `home`, the reason the viewer may read the
-- person's household (or NULL).
CREATE FUNCTION person_reason_of(p persons, v viewer, home text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE
    WHEN v.api_token_id IS NOT NULL OR p.county_id IS DISTINCT FROM v.county_id THEN NULL
    WHEN p.id = v.person_id THEN 'SELF'
    ELSE coalesce(
        home,
        CASE WHEN v.household_id IS NOT NULL AND serves_household(p.id, v.household_id) THEN 'SERVES_VIEWER' END)
END
$$;

CREATE OR REPLACE FUNCTION building_office_reason(building bigint, v viewer) RETURNS SETOF text
LANGUAGE sql STABLE PARALLEL SAFE ROWS 1
AS $$ SELECT building_office_of(b, v) FROM areas b WHERE b.id = building_office_reason.building $$;

-- The rules as the ordinary path reads them, one row each: the place looked up, then the
-- expression. The `_at` forms of 0032 are the expressions now.
CREATE OR REPLACE FUNCTION household_reason(h households, v viewer) RETURNS SETOF text
LANGUAGE sql STABLE PARALLEL SAFE ROWS 1
AS $$ SELECT household_reason_of(h, v, (SELECT o FROM building_office_reason(h.building_id, v) o)) $$;

CREATE OR REPLACE FUNCTION person_reason(p persons, v viewer) RETURNS SETOF text
LANGUAGE sql STABLE PARALLEL SAFE ROWS 1
AS $$
SELECT person_reason_of(p, v, (SELECT hr FROM households h, household_reason(h, v) hr WHERE h.id = p.household_id))
$$;

DROP FUNCTION household_reason_at(households, viewer, text);
DROP FUNCTION person_reason_at(persons, viewer, text);
