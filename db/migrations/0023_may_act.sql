-- Issue 12, continued: who may act. The checks of mutations, written once as functions of
-- the viewer (`viewer_of`, 0010_authorization) over the terms already defined there. Each
-- mutation calls its rule in the statement that reads (and, for a row it changes, locks
-- with FOR UPDATE) its target, so the check and the change see the same row, and a grant
-- taken away counts at the next request: no Python copy of a rule, nothing cached.

-- Staff of an area: COUNTY_ADMIN of its county, or COMMUNITY_STAFF of the area or of one
-- above it (the staff scope, `viewer.staff_scope`). `path` is the area's path, county down
-- to itself, as every area (and every row copied from one) carries it.
CREATE FUNCTION staff_of_area(path bigint[], v viewer) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT coalesce(path && v.staff_scope, false) $$;

-- Administers an organisation: COUNTY_ADMIN of its county, or its UNIT_ADMIN (a partner
-- unit's API token acts as the UNIT_ADMIN of its own organisation).
CREATE FUNCTION administers_organisation(organisation bigint, v viewer) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT coalesce((SELECT o.county_id = v.county_id AND (v.county_admin OR o.id = ANY(v.units))
                 FROM organisations o WHERE o.id = organisation), false)
$$;

-- A party of an exchange (who completes or cancels it): whoever administers the providing
-- organisation, staff of the receiving area (the need's area, copied when allocated).
CREATE FUNCTION exchange_party(e exchanges, v viewer) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT coalesce(e.county_id = v.county_id, false)
   AND (administers_organisation(e.provider_id, v)
        OR EXISTS (SELECT 1 FROM areas a WHERE a.id = e.receiver_id AND staff_of_area(a.path, v)))
$$;

-- The parties of an adoption (包抓: who adopts and ends it): staff of the adopted area, the
-- adopting unit's UNIT_ADMIN.
CREATE FUNCTION adoption_parties(unit bigint, area_path bigint[], v viewer) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT staff_of_area(area_path, v) OR coalesce(unit = ANY(v.units), false) $$;

-- Who creates an activity: staff of its community, the UNIT_ADMIN of one of its hosts.
CREATE FUNCTION activity_creator(community_path bigint[], hosts bigint[], v viewer) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT staff_of_area(community_path, v) OR coalesce(hosts && v.units, false) $$;

-- Who reads a person's volunteer hours: the person themself, staff of the building they
-- live in (COUNTY_ADMIN included, wherever they live in the county).
CREATE FUNCTION volunteer_hours_reader(p persons, v viewer) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT coalesce(p.county_id = v.county_id, false)
   AND (p.id = v.person_id OR v.county_admin
        OR EXISTS (SELECT 1 FROM households h JOIN areas b ON b.id = h.building_id
                   WHERE h.id = p.household_id AND staff_of_area(b.path, v)))
$$;

-- Who places a service order for a household: its members, staff of its building, the
-- building's head (its current responsible person).
CREATE FUNCTION orders_for_household(h households, v viewer) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT coalesce(h.county_id = v.county_id
                AND (h.id = v.household_id OR staff_of_area(b.path, v) OR building_head(b.id) = v.person_id), false)
FROM areas b WHERE b.id = h.building_id
$$;

-- The paired cadre (who records, corrects and deletes the pairing's visits): the cadre of
-- the pairing, signed in as themself.
CREATE FUNCTION paired_cadre(p pairings, v viewer) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT coalesce(p.county_id = v.county_id AND p.cadre_id = v.person_id, false) $$;

-- Who registers with a community (双报到): a unit's party organisation by the unit's
-- UNIT_ADMIN (`unit_of`), a party member by themself. One of `organisation` and `person`.
CREATE FUNCTION registers_for(organisation bigint, person bigint, v viewer) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT coalesce(CASE WHEN organisation IS NOT NULL THEN unit_of(organisation) = ANY(v.units)
                     ELSE person = v.person_id END, false)
$$;

-- Who reads the reports of an area (coverage, compliance, their exports): staff of the
-- area, the head of a building on its path (for the building and its stairwell units), the
-- UNIT_ADMIN of a unit adopting it or an area above it.
CREATE FUNCTION report_reader(path bigint[], v viewer) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT staff_of_area(report_reader.path, v)
    OR EXISTS (SELECT 1 FROM areas b
               WHERE b.id = ANY(report_reader.path) AND b.level = 'BUILDING' AND building_head(b.id) = v.person_id)
    OR adopted_by(report_reader.path, v.units)
$$;
