-- Service orders: placed by a resident, dispatched by the community, accepted and
-- completed by a party member or unit, rated by the household. The timeline is append-only.

CREATE TABLE service_categories (
    code         text PRIMARY KEY CHECK (code ~ '^[A-Z_]{2,40}$'),
    name         text NOT NULL,
    due_hours    integer NOT NULL CHECK (due_hours > 0),
    accept_hours integer NOT NULL CHECK (accept_hours > 0)
);

CREATE TABLE service_orders (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    county_id         bigint NOT NULL REFERENCES areas (id),
    number            text NOT NULL UNIQUE,
    household_id      bigint NOT NULL REFERENCES households (id),
    community_id      bigint NOT NULL REFERENCES areas (id),
    title             text NOT NULL CHECK (btrim(title) <> ''),
    description       text,
    category          text NOT NULL REFERENCES service_categories (code),
    status            text NOT NULL DEFAULT 'SUBMITTED'
                      CHECK (status IN ('SUBMITTED', 'DISPATCHED', 'ACCEPTED', 'COMPLETED', 'CLOSED', 'CANCELLED')),
    assignee_id       bigint REFERENCES persons (id),
    assignee_unit_id  bigint REFERENCES organisations (id),
    due_at            timestamptz,
    dispatched_at     timestamptz,
    resolution        text,
    rating            integer CHECK (rating BETWEEN 1 AND 5),
    rating_comment    text,
    placed_by         bigint NOT NULL REFERENCES users (id),
    idempotency_key   text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (assignee_id IS NULL OR assignee_unit_id IS NULL),
    CHECK (status NOT IN ('DISPATCHED', 'ACCEPTED') OR assignee_id IS NOT NULL OR assignee_unit_id IS NOT NULL),
    CHECK ((status = 'CLOSED') = (rating IS NOT NULL))
);
CREATE UNIQUE INDEX service_orders_idempotency ON service_orders (placed_by, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX service_orders_community ON service_orders (community_id, id);
CREATE INDEX service_orders_household ON service_orders (household_id, id);
CREATE INDEX service_orders_assignee ON service_orders (assignee_id, id) WHERE assignee_id IS NOT NULL;
CREATE INDEX service_orders_assignee_unit ON service_orders (assignee_unit_id, id) WHERE assignee_unit_id IS NOT NULL;
CREATE INDEX service_orders_open_due ON service_orders (due_at) WHERE status IN ('DISPATCHED', 'ACCEPTED');

-- Order numbers read PREFIX-YYYYMMDD-NNNN: the county's prefix (e.g. FP for 佛坪县; GJ<county id> when
-- the county has none), its local date, and a counter per county and day.
CREATE TABLE order_number_prefixes (
    county_id bigint PRIMARY KEY REFERENCES areas (id),
    prefix    text NOT NULL UNIQUE CHECK (prefix ~ '^[A-Z]{1,8}$')  -- letters only: defaults are GJ<county id>
);

CREATE TABLE order_number_counters (
    county_id bigint NOT NULL REFERENCES areas (id),
    day       date NOT NULL,
    last      integer NOT NULL,
    PRIMARY KEY (county_id, day)
);

CREATE TABLE order_events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    county_id    bigint NOT NULL REFERENCES areas (id),
    order_id     bigint NOT NULL REFERENCES service_orders (id),
    at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    action       text NOT NULL CHECK (action IN ('PLACED', 'DISPATCHED', 'ACCEPTED', 'RETURNED', 'COMPLETED', 'RATED', 'CANCELLED')),
    from_status  text,
    to_status    text NOT NULL,
    actor_user_id bigint REFERENCES users (id),
    actor_person_id bigint REFERENCES persons (id),
    note         text
);
CREATE INDEX order_events_order ON order_events (order_id, id);

CREATE FUNCTION order_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the order timeline is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER order_events_append_only BEFORE UPDATE OR DELETE ON order_events
    FOR EACH ROW EXECUTE FUNCTION order_events_append_only();
CREATE TRIGGER order_events_no_truncate BEFORE TRUNCATE ON order_events
    FOR EACH STATEMENT EXECUTE FUNCTION order_events_append_only();

-- Orders as the API reads them: with the household's building path (for scope checks) and
-- the two derived flags. `overdue`: the due time has passed while the order is still with
-- its assignee. `escalated`: dispatched but not accepted within the category's accept
-- hours. Both are derived at read time, so no periodic job has to keep a stored flag true.
CREATE VIEW service_order_rows AS
SELECT o.id, o.county_id, o.number, o.household_id, o.community_id, o.title, o.description, o.category,
       o.status, o.assignee_id, o.assignee_unit_id, o.due_at, o.dispatched_at, o.resolution, o.rating,
       o.rating_comment, o.placed_by, o.idempotency_key, o.created_at, o.updated_at, b.path,
       coalesce(o.status IN ('DISPATCHED', 'ACCEPTED') AND o.due_at < now(), false) AS overdue,
       coalesce(o.status = 'DISPATCHED' AND o.dispatched_at + make_interval(hours => c.accept_hours) < now(), false)
           AS escalated
FROM service_orders o
JOIN households h ON h.id = o.household_id
JOIN areas b ON b.id = h.building_id
JOIN service_categories c ON c.code = o.category;
