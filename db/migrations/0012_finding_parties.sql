-- Issue 14 widens two rules of 0010_authorization; each stays one definition, used by lists,
-- node(), mutations and events alike.
-- A service order: the head of the household's building (楼栋长, its current responsible
-- person) is a party, BUILDING_HEAD: they read the order but take no transition.
CREATE OR REPLACE FUNCTION order_parties(o service_order_rows, v viewer) RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE WHEN o.county_id IS DISTINCT FROM v.county_id THEN '{}'::text[] ELSE array_remove(ARRAY[
    CASE WHEN o.path && v.staff_scope THEN 'STAFF' END,
    CASE WHEN o.household_id = v.household_id THEN 'HOUSEHOLD' END,
    CASE WHEN v.person_id IS NOT NULL
          AND (SELECT building_head(h.building_id) FROM households h WHERE h.id = o.household_id) = v.person_id
         THEN 'BUILDING_HEAD' END,
    CASE WHEN o.assignee_id = v.person_id
           OR o.assignee_unit_id = ANY(v.units)
           OR organisation_member(v.person_id, o.assignee_unit_id) THEN 'ASSIGNEE' END
], NULL) END
$$;

-- A dual registration: the UNIT_ADMIN of a unit also sees the registrations of the unit's
-- members (who register as party members with their home community).
CREATE OR REPLACE FUNCTION registration_access(r registrations, v viewer) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE
    WHEN r.county_id IS DISTINCT FROM v.county_id THEN NULL
    WHEN c.path && v.staff_scope THEN 'STAFF'
    WHEN r.person_id = v.person_id THEN 'REGISTRANT'
    WHEN unit_of(r.organisation_id) = ANY(v.units) THEN 'UNIT_ADMIN'
    WHEN EXISTS (SELECT 1 FROM unnest(v.units) u WHERE organisation_member(r.person_id, u)) THEN 'UNIT_ADMIN'
END
FROM areas c WHERE c.id = r.community_id
$$;

-- Who takes a household's service orders as an organisation: a unit (`unit_kind`), or the
-- property company or service provider managing the household's compound. This replaces
-- `order_taker_kind`, which let any service provider take any order.
CREATE FUNCTION takes_orders_of(organisation bigint, household bigint) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT unit_kind(o.kind)
    OR (o.kind IN ('PROPERTY_COMPANY', 'SERVICE_PROVIDER') AND EXISTS (
        SELECT 1 FROM households h JOIN areas b ON b.id = h.building_id JOIN areas c ON c.id = b.parent_id
        WHERE h.id = household AND c.property_manager_id = o.id))
FROM organisations o WHERE o.id = organisation
$$;

DROP FUNCTION order_taker_kind(text);
