-- Issue 13: the personal-data rules (0025, 0028) take the reason of the place a row lies in as
-- an argument, so that a statement that has just computed it for the parent row hands it to
-- the parent's rows instead of looking the place up again for each of them. A household's
-- rule reads its building's office (`building_office_reason`), a person's rule reads their
-- household's reason (`household_reason`): the compiled read of a building's households, or of
-- a household's residents, knows both from the row one level up (the relation guarantees that
-- the place is the parent), where each row looked up its household and its building again.
-- The rules' text moves into the `_at` forms unchanged; `household_reason` and
-- `person_reason` keep their signatures and answers and look the place up themselves. Both
-- forms are inlined where they are read from FROM.

-- Why a viewer may read a household's residents, given `office`, the reason the viewer serves
-- the household's building by office (`building_office_reason` of h.building_id, or NULL).
CREATE FUNCTION household_reason_at(h households, v viewer, office text) RETURNS SETOF text
LANGUAGE sql STABLE PARALLEL SAFE ROWS 1
AS $$
SELECT CASE
    WHEN v.api_token_id IS NOT NULL OR h.county_id IS DISTINCT FROM v.county_id THEN NULL
    WHEN h.id = v.household_id THEN 'MEMBER'
    ELSE coalesce(
        office,
        CASE WHEN EXISTS (SELECT 1 FROM pairings pr
                          WHERE pr.household_id = h.id AND pr.cadre_id = v.person_id AND pr.until IS NULL)
             THEN 'CADRE' END)
END
$$;

CREATE OR REPLACE FUNCTION household_reason(h households, v viewer) RETURNS SETOF text
LANGUAGE sql STABLE PARALLEL SAFE ROWS 1
AS $$
SELECT r
FROM (SELECT (SELECT o FROM building_office_reason(h.building_id, v) o) AS office) b,
     household_reason_at(h, v, b.office) r
$$;

-- Why a viewer may read a person's phone, given `home`, the reason the viewer may read the
-- person's household (`household_reason` of p.household_id, or NULL).
CREATE FUNCTION person_reason_at(p persons, v viewer, home text) RETURNS SETOF text
LANGUAGE sql STABLE PARALLEL SAFE ROWS 1
AS $$
SELECT CASE
    WHEN v.api_token_id IS NOT NULL OR p.county_id IS DISTINCT FROM v.county_id THEN NULL
    WHEN p.id = v.person_id THEN 'SELF'
    ELSE coalesce(
        home,
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

CREATE OR REPLACE FUNCTION person_reason(p persons, v viewer) RETURNS SETOF text
LANGUAGE sql STABLE PARALLEL SAFE ROWS 1
AS $$
SELECT r
FROM (SELECT (SELECT hr FROM households h, household_reason(h, v) hr WHERE h.id = p.household_id) AS home) h,
     person_reason_at(p, v, h.home) r
$$;
