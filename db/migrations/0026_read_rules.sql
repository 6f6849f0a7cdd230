-- Issue 12, continued: the read paths left over. Finding people (`people`) runs the SQL rules
-- of persons and households with the viewer (no reach handed in from Python); the county's
-- calendar has one definition, `county_date` (and `county_today`, its today), which findings
-- use too.

-- The county's date of an instant: its day in the county's time zone, the session's
-- `gongjian.time_zone` (the app sets it on each connection from its settings; Asia/Shanghai
-- when unset), never the server's own. The one definition of the county's calendar.
CREATE FUNCTION county_date(at timestamptz) RETURNS date
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT (at AT TIME ZONE coalesce(nullif(current_setting('gongjian.time_zone', true), ''), 'Asia/Shanghai'))::date
$$;

CREATE OR REPLACE FUNCTION county_today() RETURNS date
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT county_date(now()) $$;

-- A finding is published (通报曝光) once its deadline passed unrectified in the county, or when
-- it was rectified only after its deadline (by the county's calendar, not a time zone passed in).
DROP FUNCTION finding_access(findings, viewer, text);
DROP FUNCTION finding_published(findings, text);

CREATE FUNCTION finding_published(f findings) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE WHEN f.rectified_at IS NULL THEN f.deadline < county_today()
            ELSE county_date(f.rectified_at) > f.deadline END
$$;

-- Why a viewer may see a finding, or NULL: staff in scope of its compound (STAFF), every
-- user of the county once it is published (PUBLISHED).
CREATE FUNCTION finding_access(f findings, v viewer) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE
    WHEN f.county_id IS DISTINCT FROM v.county_id THEN NULL
    WHEN staff_of_area(c.path, v) THEN 'STAFF'
    WHEN finding_published(f) THEN 'PUBLISHED'
END
FROM areas c WHERE c.id = f.compound_id
$$;

-- Why a viewer serves the households of a building by office, or NULL: COUNTY_ADMIN of its
-- county, staff whose scope holds it (STAFF), its head, the building's current responsible
-- person (BUILDING_HEAD). Never an API token. A term of `household_access` (below) and the
-- reach of `people` (`findable_people`).
CREATE FUNCTION building_office(building bigint, v viewer) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE
    WHEN v.api_token_id IS NOT NULL OR b.county_id IS DISTINCT FROM v.county_id THEN NULL
    WHEN v.county_admin THEN 'COUNTY_ADMIN'
    WHEN staff_of_area(b.path, v) THEN 'STAFF'
    WHEN building_head(b.id) = v.person_id THEN 'BUILDING_HEAD'
END
FROM areas b WHERE b.id = building
$$;

-- Why a viewer may read a household's residents and their personal data, or NULL: its
-- members, whoever serves its building by office (`building_office`), a cadre with an active pairing
-- with it. Never an API token. (0010's rule, the office now named once.)
CREATE OR REPLACE FUNCTION household_access(h households, v viewer) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE
    WHEN v.api_token_id IS NOT NULL OR h.county_id IS DISTINCT FROM v.county_id THEN NULL
    WHEN h.id = v.household_id THEN 'MEMBER'
    ELSE coalesce(
        building_office(h.building_id, v),
        CASE WHEN EXISTS (SELECT 1 FROM pairings pr
                          WHERE pr.household_id = h.id AND pr.cadre_id = v.person_id AND pr.until IS NULL)
             THEN 'CADRE' END)
END
$$;

-- Whom a viewer may find with `people` (查找居民), with the reason: the people they see
-- (`person_visible`) whom COUNTY_ADMIN finds anywhere in the county (with a household or
-- none), and anyone else those living in a building they serve by office
-- (`building_office`: staff in scope, the building's head, its current responsible person).
-- A set, the office asked once per building of the county, not once per person. The reason
-- masks nothing by itself (the phone stays `person_access`'s) and is written to the audit
-- log for each household read.
CREATE FUNCTION findable_people(v viewer) RETURNS TABLE (person_id bigint, reason text)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
WITH office AS MATERIALIZED (  -- once per building, not again for each of its residents
    SELECT b.id, building_office(b.id, v) AS reason FROM areas b
    WHERE v.county_admin IS NOT TRUE AND b.county_id = v.county_id AND b.level = 'BUILDING'
)
SELECT p.id, 'COUNTY_ADMIN'::text FROM persons p
WHERE v.county_admin AND v.api_token_id IS NULL AND person_visible(p, v)
UNION ALL
SELECT p.id, o.reason
FROM office o
JOIN households h ON h.building_id = o.id
JOIN persons p ON p.household_id = h.id
WHERE o.reason IS NOT NULL AND person_visible(p, v)
$$;
