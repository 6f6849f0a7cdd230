-- Open WebSockets end when the access they were opened with ends, on every server instance:
-- a change that can end a user's tokens or grants announces it on the channel
-- `access_changed` ({"user": id}, or {"token": id} for a revoked API token), delivered on
-- commit to each instance's listening connection, which checks that user's open sockets
-- again (resolvers/socket_watch.py). Triggers, so that every path (the API, `gongjian
-- user`, plain SQL) announces it.
CREATE FUNCTION announce_access_change() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_TABLE_NAME = 'api_tokens' THEN
        PERFORM pg_notify('access_changed', json_build_object('token', OLD.id)::text);
    ELSIF TG_TABLE_NAME = 'users' THEN
        PERFORM pg_notify('access_changed', json_build_object('user', OLD.id)::text);
    ELSE  -- role_grants: a grant removed, or changed (the old one is gone)
        PERFORM pg_notify('access_changed', json_build_object('user', OLD.user_id)::text);
    END IF;
    RETURN NULL;
END
$$;

-- a password change or disabling moves token_generation on (enabling does too)
CREATE TRIGGER users_access_change AFTER UPDATE OF token_generation, disabled ON users
FOR EACH ROW WHEN (OLD.token_generation IS DISTINCT FROM NEW.token_generation OR OLD.disabled IS DISTINCT FROM NEW.disabled)
EXECUTE FUNCTION announce_access_change();

CREATE TRIGGER role_grants_access_change AFTER DELETE OR UPDATE ON role_grants
FOR EACH ROW EXECUTE FUNCTION announce_access_change();

CREATE TRIGGER api_tokens_access_change AFTER UPDATE OF revoked_at ON api_tokens
FOR EACH ROW WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at)
EXECUTE FUNCTION announce_access_change();

-- The order rule `order_parties` (0012), with the same parties, written so that PostgreSQL
-- inlines it into the lists' queries: the building's head comes with the order's row (one
-- current responsibility per area, so the join adds no row), and the unit-member look-up
-- runs only for an order assigned to a unit. Called as a function per order (its scalar
-- subquery kept it from being inlined), the rule cost about 0.4 ms an order: 40 s for a
-- count over 100,000 orders on a loaded machine.
CREATE OR REPLACE VIEW service_order_rows AS
SELECT o.id, o.county_id, o.number, o.household_id, o.community_id, o.title, o.description, o.category,
       o.status, o.assignee_id, o.assignee_unit_id, o.due_at, o.dispatched_at, o.resolution, o.rating,
       o.rating_comment, o.placed_by, o.idempotency_key, o.created_at, o.updated_at, b.path,
       coalesce(o.status IN ('DISPATCHED', 'ACCEPTED') AND o.due_at < now(), false) AS overdue,
       coalesce(o.status = 'DISPATCHED' AND o.dispatched_at + make_interval(hours => c.accept_hours) < now(), false)
           AS escalated,
       head.person_id AS building_head
FROM service_orders o
JOIN households h ON h.id = o.household_id
JOIN areas b ON b.id = h.building_id
JOIN service_categories c ON c.code = o.category
LEFT JOIN responsibilities head ON head.area_id = b.id AND head.until IS NULL;

CREATE OR REPLACE FUNCTION order_parties(o service_order_rows, v viewer) RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE WHEN o.county_id IS DISTINCT FROM v.county_id THEN '{}'::text[] ELSE array_remove(ARRAY[
    CASE WHEN o.path && v.staff_scope THEN 'STAFF' END,
    CASE WHEN o.household_id = v.household_id THEN 'HOUSEHOLD' END,
    CASE WHEN v.person_id IS NOT NULL AND o.building_head = v.person_id THEN 'BUILDING_HEAD' END,
    CASE WHEN o.assignee_id = v.person_id
           OR o.assignee_unit_id = ANY(v.units)
           OR (o.assignee_unit_id IS NOT NULL AND organisation_member(v.person_id, o.assignee_unit_id))
         THEN 'ASSIGNEE' END
], NULL) END
$$;
