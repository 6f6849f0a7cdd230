-- Adoption (a unit takes responsibility for a compound or building), pairing (a cadre
-- befriends a household), visits that meet the three obligations, and dual registration.

CREATE TABLE adoptions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    county_id   bigint NOT NULL REFERENCES areas (id),
    unit_id     bigint NOT NULL REFERENCES organisations (id),
    area_id     bigint NOT NULL REFERENCES areas (id),
    duties      text[] NOT NULL DEFAULT '{ASSIST_MANAGEMENT,PUBLIC_SERVICE,MOBILISATION}'
                CHECK (duties <@ '{ASSIST_MANAGEMENT,PUBLIC_SERVICE,MOBILISATION}'::text[]),
    since       date NOT NULL,
    until       date,
    created_by  bigint,
    CHECK (until IS NULL OR until >= since)
);
CREATE UNIQUE INDEX adoptions_unique_active ON adoptions (unit_id, area_id) WHERE until IS NULL;
CREATE INDEX adoptions_area ON adoptions (area_id) WHERE until IS NULL;

CREATE TABLE pairings (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    county_id    bigint NOT NULL REFERENCES areas (id),
    cadre_id     bigint NOT NULL REFERENCES persons (id),
    household_id bigint NOT NULL REFERENCES households (id),
    since        date NOT NULL,
    until        date,
    created_by   bigint,
    CHECK (until IS NULL OR until >= since)
);
CREATE UNIQUE INDEX pairings_unique_active ON pairings (cadre_id, household_id) WHERE until IS NULL;
CREATE INDEX pairings_household ON pairings (household_id) WHERE until IS NULL;
CREATE INDEX pairings_cadre ON pairings (cadre_id, id) WHERE until IS NULL;

CREATE TABLE visits (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    county_id    bigint NOT NULL REFERENCES areas (id),
    pairing_id   bigint NOT NULL REFERENCES pairings (id),
    kind         text NOT NULL CHECK (kind IN ('HOME_VISIT', 'HEART_TO_HEART', 'GOOD_DEED')),
    occurred_on  date NOT NULL,
    notes        text,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    recorded_by  bigint
);
CREATE INDEX visits_pairing ON visits (pairing_id, kind, occurred_on);
-- compliance of a whole area reads only the visits of each kind's current period
CREATE INDEX visits_kind_day ON visits (kind, occurred_on, pairing_id);

-- 双报到: a unit's party organisation with the community it serves, or a party member
-- with the community they live in; staff confirm it.
CREATE TABLE registrations (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    county_id       bigint NOT NULL REFERENCES areas (id),
    community_id    bigint NOT NULL REFERENCES areas (id),
    organisation_id bigint REFERENCES organisations (id),
    person_id       bigint REFERENCES persons (id),
    status          text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'CONFIRMED', 'REJECTED')),
    registered_at   timestamptz NOT NULL DEFAULT now(),
    decided_at      timestamptz,
    decided_by      bigint,
    CHECK ((organisation_id IS NULL) <> (person_id IS NULL))
);
CREATE UNIQUE INDEX registrations_unique_org ON registrations (community_id, organisation_id)
    WHERE organisation_id IS NOT NULL AND status <> 'REJECTED';
CREATE UNIQUE INDEX registrations_unique_person ON registrations (community_id, person_id)
    WHERE person_id IS NOT NULL AND status <> 'REJECTED';
