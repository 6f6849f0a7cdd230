-- The dual list: resources offered by units, needs published for areas, and exchanges,
-- the ledger entries that allocate a quantity of a resource to a need.

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
    available_until timestamptz,
    withdrawn_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by      bigint,
    CONSTRAINT resources_remaining_in_range CHECK (remaining BETWEEN 0 AND quantity)
);
CREATE INDEX resources_provider ON resources (provider_id, id);
CREATE INDEX resources_category ON resources (county_id, category, id);

CREATE TABLE resource_communities (
    resource_id  bigint NOT NULL REFERENCES resources (id),
    community_id bigint NOT NULL REFERENCES areas (id),
    PRIMARY KEY (resource_id, community_id)
);
CREATE INDEX resource_communities_community ON resource_communities (community_id, resource_id);

CREATE TABLE needs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    county_id   bigint NOT NULL REFERENCES areas (id),
    area_id     bigint NOT NULL REFERENCES areas (id),
    title       text NOT NULL CHECK (btrim(title) <> ''),
    description text,
    category    text NOT NULL CHECK (category IN ('PARKING', 'VENUE', 'VOLUNTEERS', 'EXPERTISE', 'GOODS', 'FUNDS', 'OTHER')),
    quantity    integer NOT NULL CHECK (quantity >= 1),
    fulfilled   integer NOT NULL DEFAULT 0,
    closed_at   timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  bigint,
    CONSTRAINT needs_fulfilled_in_range CHECK (fulfilled BETWEEN 0 AND quantity)
);
CREATE INDEX needs_area ON needs (area_id, id);

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
    cancelled_at  timestamptz,
    cancel_reason text,
    CHECK ((status = 'COMPLETED') = (completed_at IS NOT NULL)),
    CHECK ((status = 'CANCELLED') = (cancelled_at IS NOT NULL))
);
CREATE INDEX exchanges_resource ON exchanges (resource_id, id);
CREATE INDEX exchanges_need ON exchanges (need_id, id);
