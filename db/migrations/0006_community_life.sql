-- Joint activities, meetings with resolutions, inspections (findings) and renovation projects.

CREATE TABLE activities (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    county_id    bigint NOT NULL REFERENCES areas (id),
    community_id bigint NOT NULL REFERENCES areas (id),
    title        text NOT NULL CHECK (btrim(title) <> ''),
    kind         text NOT NULL CHECK (kind IN ('CHARITY_MEAL', 'PERFORMANCE', 'FREE_CLINIC', 'POLICY_OUTREACH', 'CLEAN_UP',
                                               'EPIDEMIC_SUPPORT', 'OTHER')),
    starts_at    timestamptz NOT NULL,
    ends_at      timestamptz NOT NULL,
    capacity     integer CHECK (capacity >= 1),
    signup_count integer NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   bigint,
    CHECK (ends_at > starts_at),
    CONSTRAINT activities_within_capacity CHECK (signup_count >= 0 AND (capacity IS NULL OR signup_count <= capacity))
);
CREATE INDEX activities_community ON activities (community_id, starts_at);

CREATE TABLE activity_hosts (
    activity_id     bigint NOT NULL REFERENCES activities (id),
    organisation_id bigint NOT NULL REFERENCES organisations (id),
    PRIMARY KEY (activity_id, organisation_id)
);
CREATE INDEX activity_hosts_organisation ON activity_hosts (organisation_id);

CREATE TABLE signups (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    county_id    bigint NOT NULL REFERENCES areas (id),
    activity_id  bigint NOT NULL REFERENCES activities (id),
    person_id    bigint NOT NULL REFERENCES persons (id),
    signed_up_at timestamptz NOT NULL DEFAULT now(),
    cancelled_at timestamptz,
    attended     boolean NOT NULL DEFAULT false,
    hours        numeric(5, 2) CHECK (hours >= 0)
);
CREATE UNIQUE INDEX signups_unique_active ON signups (activity_id, person_id) WHERE cancelled_at IS NULL;
CREATE INDEX signups_person ON signups (person_id);

CREATE TABLE meetings (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    county_id    bigint NOT NULL REFERENCES areas (id),
    community_id bigint NOT NULL REFERENCES areas (id),
    kind         text NOT NULL CHECK (kind IN ('RESIDENTS_REVIEW', 'PROPERTY_MANAGEMENT', 'OWNER_COMMITTEE', 'JOINT_UNIT')),
    title        text NOT NULL CHECK (btrim(title) <> ''),
    starts_at    timestamptz NOT NULL,
    status       text NOT NULL DEFAULT 'SCHEDULED' CHECK (status IN ('SCHEDULED', 'HELD', 'CANCELLED')),
    minutes      text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   bigint,
    CHECK ((status = 'HELD') = (minutes IS NOT NULL))
);
CREATE INDEX meetings_community ON meetings (community_id, id);

CREATE TABLE meeting_organisations (
    meeting_id      bigint NOT NULL REFERENCES meetings (id),
    organisation_id bigint NOT NULL REFERENCES organisations (id),
    PRIMARY KEY (meeting_id, organisation_id)
);

CREATE TABLE resolutions (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    county_id           bigint NOT NULL REFERENCES areas (id),
    meeting_id          bigint NOT NULL REFERENCES meetings (id),
    position            integer NOT NULL,
    text                text NOT NULL CHECK (btrim(text) <> ''),
    follow_up_order_id  bigint UNIQUE REFERENCES service_orders (id),
    UNIQUE (meeting_id, position)
);

CREATE TABLE findings (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    county_id          bigint NOT NULL REFERENCES areas (id),
    compound_id        bigint NOT NULL REFERENCES areas (id),
    category           text NOT NULL CHECK (category IN ('DISORDERLY_PARKING', 'PILING', 'OVERHEAD_CABLES', 'RUBBISH',
                                                         'SEWAGE', 'ILLEGAL_STRUCTURE', 'BILLBOARD', 'OTHER')),
    description        text NOT NULL CHECK (btrim(description) <> ''),
    deadline           date NOT NULL,
    reported_at        timestamptz NOT NULL DEFAULT now(),
    reported_by        bigint,
    rectified_at       timestamptz,
    rectification_note text,
    CHECK ((rectified_at IS NULL) = (rectification_note IS NULL))
);
CREATE INDEX findings_compound ON findings (compound_id, id);
CREATE INDEX findings_open_deadline ON findings (deadline) WHERE rectified_at IS NULL;

CREATE TABLE renovations (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    county_id    bigint NOT NULL REFERENCES areas (id),
    compound_id  bigint NOT NULL REFERENCES areas (id),
    title        text NOT NULL CHECK (btrim(title) <> ''),
    status       text NOT NULL CHECK (status IN ('PLANNED', 'IN_PROGRESS', 'COMPLETED')),
    year         integer NOT NULL CHECK (year BETWEEN 1949 AND 2200),
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX renovations_compound ON renovations (compound_id);
