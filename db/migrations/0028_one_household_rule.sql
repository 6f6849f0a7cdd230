-- Issue 12, one rule written once: 0025 moved the personal-data rule of a household into the
-- inlinable `household_reason` (issue 13's speed), while 0026 named the building's office once
-- (`building_office`) and rewrote `household_access` on it. That left two texts of one rule.
-- Here the office gets an inlinable form too, `household_reason` is written on it, and
-- `household_access` is again only the scalar form of `household_reason`. Same answers.

-- Why a viewer serves a building's households by office: one row, the reason or NULL
-- (COUNTY_ADMIN of its county, STAFF in scope, its current responsible person as
-- BUILDING_HEAD; never an API token). Inlined where it is read from FROM.
CREATE FUNCTION building_office_reason(building bigint, v viewer) RETURNS SETOF text
LANGUAGE sql STABLE PARALLEL SAFE ROWS 1
AS $$
SELECT CASE
    WHEN v.api_token_id IS NOT NULL OR b.county_id IS DISTINCT FROM v.county_id THEN NULL
    WHEN v.county_admin THEN 'COUNTY_ADMIN'
    WHEN staff_of_area(b.path, v) THEN 'STAFF'
    WHEN building_head(b.id) = v.person_id THEN 'BUILDING_HEAD'
END
FROM areas b WHERE b.id = building_office_reason.building
$$;

CREATE OR REPLACE FUNCTION building_office(building bigint, v viewer) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT r FROM building_office_reason(building_office.building, v) r $$;

-- Why a viewer may read a household's residents and their personal data: its members,
-- whoever serves its building by office, a cadre with an active pairing with it.
CREATE OR REPLACE FUNCTION household_reason(h households, v viewer) RETURNS SETOF text
LANGUAGE sql STABLE PARALLEL SAFE ROWS 1
AS $$
SELECT CASE
    WHEN v.api_token_id IS NOT NULL OR h.county_id IS DISTINCT FROM v.county_id THEN NULL
    WHEN h.id = v.household_id THEN 'MEMBER'
    ELSE coalesce(
        (SELECT o FROM building_office_reason(h.building_id, v) o),
        CASE WHEN EXISTS (SELECT 1 FROM pairings pr
                          WHERE pr.household_id = h.id AND pr.cadre_id = v.person_id AND pr.until IS NULL)
             THEN 'CADRE' END)
END
$$;

CREATE OR REPLACE FUNCTION household_access(h households, v viewer) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT r FROM household_reason(h, v) r $$;
