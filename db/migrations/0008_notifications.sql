-- Notifications: every user's inbox. A notification is created in the same transaction as
-- what causes it: triggers on the causing rows for what users do (order transitions,
-- registration decisions, published needs), the periodic sweep (db/notifications.py) for
-- what time does. Each is created once per reason: (user, kind, reason) is unique.

CREATE TABLE notifications (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    county_id    bigint NOT NULL REFERENCES areas (id),
    user_id      bigint NOT NULL REFERENCES users (id),
    kind         text NOT NULL CHECK (kind IN ('ORDER_UPDATED', 'ORDER_ASSIGNED', 'ORDER_ESCALATED', 'ORDER_OVERDUE',
                                               'VISIT_DUE', 'NEED_MATCHED', 'REGISTRATION_DECIDED',
                                               'FINDING_PUBLISHED', 'ACTIVITY_SOON')),
    -- why it was raised, e.g. 'event:42' or 'order:7:due:1767225600': one notification per reason
    reason       text NOT NULL,
    subject_type text NOT NULL,
    subject_id   bigint NOT NULL,
    -- what the title and body are rendered from, in the reader's language
    params       jsonb NOT NULL DEFAULT '{}',
    at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    read_at      timestamptz,
    UNIQUE (user_id, kind, reason)
);
CREATE INDEX notifications_inbox ON notifications (user_id, id);
CREATE INDEX notifications_unread ON notifications (user_id, id) WHERE read_at IS NULL;
-- the sweep's look at orders still waiting for someone (escalation)
CREATE INDEX service_orders_waiting ON service_orders (status) WHERE status IN ('SUBMITTED', 'DISPATCHED');

-- Every new notification is announced to the server instances' listeners on commit.
CREATE FUNCTION notifications_announce() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('notifications', json_build_object('id', NEW.id, 'user', NEW.user_id)::text);
    RETURN NULL;
END $$;
CREATE TRIGGER notifications_announce AFTER INSERT ON notifications
    FOR EACH ROW EXECUTE FUNCTION notifications_announce();

-- The outbound webhook's position (one row): notifications up to `last_id` have been
-- accepted by the operator's endpoint.
CREATE TABLE notification_webhook (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_id    bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- An order's timeline entry: ORDER_UPDATED to the users of the ordering household (except
-- whoever did it), ORDER_ASSIGNED to the new assignee (or the UNIT_ADMINs of the unit).
CREATE FUNCTION notify_order_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    o service_orders;
BEGIN
    SELECT * INTO o FROM service_orders WHERE id = NEW.order_id;
    INSERT INTO notifications (county_id, user_id, kind, reason, subject_type, subject_id, params, at)
    SELECT o.county_id, u.id, 'ORDER_UPDATED', 'event:' || NEW.id, 'ServiceOrder', o.id,
           jsonb_build_object('number', o.number, 'title', o.title, 'action', NEW.action, 'status', NEW.to_status),
           NEW.at
    FROM persons p JOIN users u ON u.person_id = p.id
    WHERE p.household_id = o.household_id AND NOT u.disabled
      AND u.id IS DISTINCT FROM NEW.actor_user_id
    ON CONFLICT DO NOTHING;
    IF NEW.action = 'DISPATCHED' THEN
        INSERT INTO notifications (county_id, user_id, kind, reason, subject_type, subject_id, params, at)
        SELECT DISTINCT o.county_id, u.id, 'ORDER_ASSIGNED', 'event:' || NEW.id, 'ServiceOrder', o.id,
               jsonb_build_object('number', o.number, 'title', o.title, 'dueAt', o.due_at), NEW.at
        FROM users u
        WHERE NOT u.disabled
          AND (u.person_id = o.assignee_id
               OR u.id IN (SELECT g.user_id FROM role_grants g
                           WHERE g.role = 'UNIT_ADMIN' AND g.organisation_id = o.assignee_unit_id))
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER notify_order_event AFTER INSERT ON order_events
    FOR EACH ROW EXECUTE FUNCTION notify_order_event();

-- A registration confirmed or rejected: the registrant (the person's user, or the UNIT_ADMINs
-- of the registering organisation).
CREATE FUNCTION notify_registration_decided() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO notifications (county_id, user_id, kind, reason, subject_type, subject_id, params)
    SELECT DISTINCT NEW.county_id, u.id, 'REGISTRATION_DECIDED', 'registration:' || NEW.id, 'Registration', NEW.id,
           jsonb_build_object('status', NEW.status, 'community', (SELECT a.name FROM areas a WHERE a.id = NEW.community_id))
    FROM users u
    WHERE NOT u.disabled
      AND (u.person_id = NEW.person_id
           OR u.id IN (SELECT g.user_id FROM role_grants g
                       WHERE g.role = 'UNIT_ADMIN' AND g.organisation_id = NEW.organisation_id))
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER notify_registration_decided AFTER UPDATE OF status ON registrations
    FOR EACH ROW WHEN (OLD.status = 'PENDING' AND NEW.status <> 'PENDING')
    EXECUTE FUNCTION notify_registration_decided();

-- A new need: the UNIT_ADMINs of every unit with an available resource of its category open
-- to its community (what `Need.matches` would list).
CREATE FUNCTION notify_need_matched() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO notifications (county_id, user_id, kind, reason, subject_type, subject_id, params)
    SELECT DISTINCT NEW.county_id, g.user_id, 'NEED_MATCHED', 'need:' || NEW.id, 'Need', NEW.id,
           jsonb_build_object('title', NEW.title, 'category', NEW.category, 'quantity', NEW.quantity)
    FROM resources r
    JOIN resource_communities rc ON rc.resource_id = r.id AND rc.community_id = NEW.community_id
    JOIN role_grants g ON g.role = 'UNIT_ADMIN' AND g.organisation_id = r.provider_id
    JOIN users u ON u.id = g.user_id AND NOT u.disabled
    WHERE r.county_id = NEW.county_id AND r.category = NEW.category AND r.remaining > 0
      AND r.withdrawn_at IS NULL AND (r.available_until IS NULL OR r.available_until > now())
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER notify_need_matched AFTER INSERT ON needs
    FOR EACH ROW EXECUTE FUNCTION notify_need_matched();
