-- Users, role grants with a scope, login throttling, partner API tokens and the audit log.

CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    county_id     bigint NOT NULL REFERENCES areas (id),
    username      text NOT NULL CHECK (username ~ '^[A-Za-z0-9_.@-]{2,64}$'),
    password_hash text NOT NULL,
    person_id     bigint REFERENCES persons (id),
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_unique_username ON users (lower(username));
CREATE UNIQUE INDEX users_unique_person ON users (person_id) WHERE person_id IS NOT NULL;

-- A role in a scope: an area (COUNTY_ADMIN, COMMUNITY_STAFF, BUILDING_HEAD, RESIDENT)
-- or an organisation (UNIT_ADMIN, CADRE).
CREATE TABLE role_grants (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    county_id       bigint NOT NULL REFERENCES areas (id),
    user_id         bigint NOT NULL REFERENCES users (id),
    role            text NOT NULL CHECK (role IN ('COUNTY_ADMIN', 'COMMUNITY_STAFF', 'BUILDING_HEAD', 'CADRE', 'RESIDENT', 'UNIT_ADMIN')),
    area_id         bigint REFERENCES areas (id),
    organisation_id bigint REFERENCES organisations (id),
    granted_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((area_id IS NULL) <> (organisation_id IS NULL)),
    CHECK (role NOT IN ('UNIT_ADMIN', 'CADRE') OR organisation_id IS NOT NULL),
    CHECK (role IN ('UNIT_ADMIN', 'CADRE') OR area_id IS NOT NULL)
);
CREATE UNIQUE INDEX role_grants_unique ON role_grants (user_id, role, coalesce(area_id, 0), coalesce(organisation_id, 0));

CREATE TABLE login_failures (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username  text NOT NULL,
    at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_username ON login_failures (lower(username), at);

CREATE TABLE api_tokens (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    county_id       bigint NOT NULL REFERENCES areas (id),
    organisation_id bigint NOT NULL REFERENCES organisations (id),
    name            text NOT NULL CHECK (btrim(name) <> ''),
    token_hash      text NOT NULL UNIQUE,
    created_by      bigint NOT NULL REFERENCES users (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz,
    revoked_at      timestamptz
);
CREATE INDEX api_tokens_organisation ON api_tokens (organisation_id, id);

CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    county_id   bigint REFERENCES areas (id),
    at          timestamptz NOT NULL DEFAULT now(),
    user_id     bigint REFERENCES users (id),
    api_token_id bigint REFERENCES api_tokens (id),
    action      text NOT NULL,
    target_type text,
    target_id   bigint,
    request_id  text,
    detail      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (county_id, id);
CREATE INDEX audit_log_user ON audit_log (user_id, id);
CREATE INDEX audit_log_target ON audit_log (target_type, target_id);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
