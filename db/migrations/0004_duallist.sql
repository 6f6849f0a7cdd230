-- The dual list (双向清单): resources offered by units, needs published for areas, and
-- exchanges, the ledger entries that allocate a quantity of a resource to a need.
--
-- Invariants held by the database itself, whatever the concurrency:
--   * 0 <= resources.remaining <= resources.quantity  (CHECK)
--   * 0 <= needs.fulfilled <= needs.quantity          (CHECK)
--   * allocations decrement `remaining` / increment `fulfilled` with conditional UPDATEs
--     (`... WHERE remaining >= $q`), so a racing allocation finds no row instead of
--     over-allocating; the CHECKs stop anything that slips past the application.
--   * an exchange is a ledger entry: only ALLOCATED -> COMPLETED | CANCELLED may change,
--     its parties, quantity and allocation time never do, and it is never deleted (trigger).

CREATE TABLE resources (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    county_id       bigint NOT NULL REFERENCES areas (id),
    provider_id     bigint NOT NULL REFERENCES organisations (id),
    title           text NOT NULL CHECK (btrim(title) <> ''),
    description     text,
    category        text NOT NULL CHECK (category IN ('PARKING', 'VENUE', 'VOLUNTEERS', 'EXPERTISE', 'GOODS', 'FUNDS', 'OTHER')),
    quantity        integer NOT NULL CHECK (quantity >= 1),
    remaining       integer NOT NULL,
    unit            text NOT NULL CHECK (btrim(unit) <> ''),
    -- the availability window ends here: afterwards the resource is EXPIRED
    available_until timestamptz,
    withdrawn_at    timestamptz,
    withdrawn_by    bigint,
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by      bigint,
    CONSTRAINT resources_remaining_in_range CHECK (remaining BETWEEN 0 AND quantity)
);
CREATE INDEX resources_provider ON resources (provider_id, id);
CREATE INDEX resources_category ON resources (county_id, category, id);
CREATE INDEX resources_county ON resources (county_id, id);

CREATE TABLE resource_communities (
    resource_id  bigint NOT NULL REFERENCES resources (id),
    community_id bigint NOT NULL REFERENCES areas (id),
    PRIMARY KEY (resource_id, community_id)
);
CREATE INDEX resource_communities_community ON resource_communities (community_id, resource_id);

CREATE TABLE needs (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    county_id    bigint NOT NULL REFERENCES areas (id),
    area_id      bigint NOT NULL REFERENCES areas (id),
    -- the community the area lies in (the area itself when it is one): matching looks here
    community_id bigint NOT NULL REFERENCES areas (id),
    title        text NOT NULL CHECK (btrim(title) <> ''),
    description  text,
    category     text NOT NULL CHECK (category IN ('PARKING', 'VENUE', 'VOLUNTEERS', 'EXPERTISE', 'GOODS', 'FUNDS', 'OTHER')),
    quantity     integer NOT NULL CHECK (quantity >= 1),
    fulfilled    integer NOT NULL DEFAULT 0,
    closed_at    timestamptz,
    closed_by    bigint,
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   bigint,
    CONSTRAINT needs_fulfilled_in_range CHECK (fulfilled BETWEEN 0 AND quantity)
);
CREATE INDEX needs_area ON needs (area_id, id);
CREATE INDEX needs_county ON needs (county_id, id);
CREATE INDEX needs_community ON needs (community_id, category, id);

CREATE TABLE exchanges (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    county_id     bigint NOT NULL REFERENCES areas (id),
    resource_id   bigint NOT NULL REFERENCES resources (id),
    need_id       bigint NOT NULL REFERENCES needs (id),
    provider_id   bigint NOT NULL REFERENCES organisations (id),
    receiver_id   bigint NOT NULL REFERENCES areas (id),
    quantity      integer NOT NULL CHECK (quantity >= 1),
    status        text NOT NULL DEFAULT 'ALLOCATED' CHECK (status IN ('ALLOCATED', 'COMPLETED', 'CANCELLED')),
    allocated_at  timestamptz NOT NULL DEFAULT now(),
    allocated_by  bigint,
    completed_at  timestamptz,
    completed_by  bigint,
    cancelled_at  timestamptz,
    cancelled_by  bigint,
    cancel_reason text,
    CHECK ((status = 'COMPLETED') = (completed_at IS NOT NULL)),
    CHECK ((status = 'CANCELLED') = (cancelled_at IS NOT NULL))
);
CREATE INDEX exchanges_resource ON exchanges (resource_id, id);
CREATE INDEX exchanges_need ON exchanges (need_id, id);
CREATE INDEX exchanges_county ON exchanges (county_id, id);

-- The ledger rule: an exchange's history is never rewritten.
CREATE FUNCTION exchanges_ledger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'exchanges are ledger entries and are never deleted'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'exchanges_ledger';
    END IF;
    IF (NEW.county_id, NEW.resource_id, NEW.need_id, NEW.provider_id, NEW.receiver_id, NEW.quantity,
        NEW.allocated_at, NEW.allocated_by)
       IS DISTINCT FROM
       (OLD.county_id, OLD.resource_id, OLD.need_id, OLD.provider_id, OLD.receiver_id, OLD.quantity,
        OLD.allocated_at, OLD.allocated_by) THEN
        RAISE EXCEPTION 'the parties, quantity and allocation of an exchange never change'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'exchanges_ledger';
    END IF;
    IF OLD.status <> 'ALLOCATED' OR NEW.status NOT IN ('COMPLETED', 'CANCELLED') THEN
        RAISE EXCEPTION 'an exchange may only go from ALLOCATED to COMPLETED or CANCELLED, not % -> %',
            OLD.status, NEW.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'exchanges_ledger';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER exchanges_ledger BEFORE UPDATE OR DELETE ON exchanges
    FOR EACH ROW EXECUTE FUNCTION exchanges_ledger();
