-- The area tree (county > town > community > district > compound > building > unit),
-- organisations, people, households, posts and responsible-person assignments.
-- Every row carries county_id so that the data can be partitioned by county later.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE areas (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    county_id       bigint NOT NULL,
    parent_id       bigint REFERENCES areas (id),
    level           text NOT NULL CHECK (level IN ('COUNTY', 'TOWN', 'COMMUNITY', 'DISTRICT', 'COMPOUND', 'BUILDING', 'UNIT')),
    name            text NOT NULL CHECK (btrim(name) <> ''),
    code            text,
    -- ancestors from the county down to this area, inclusive; kept by a trigger
    path            bigint[] NOT NULL DEFAULT '{}',
    -- compound attributes (level = 'COMPOUND')
    compound_kind   text CHECK (compound_kind IN ('COMMERCIAL', 'STAFF_HOUSING', 'SELF_BUILT', 'RESETTLEMENT', 'OTHER')),
    address         text,
    management_plan text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((level = 'COUNTY') = (parent_id IS NULL)),
    CHECK (level = 'COMPOUND' OR (compound_kind IS NULL AND management_plan IS NULL)),
    CHECK (level <> 'COMPOUND' OR compound_kind IS NOT NULL)
);
CREATE UNIQUE INDEX areas_unique_name_under_parent ON areas (parent_id, name);
CREATE UNIQUE INDEX areas_unique_county_name ON areas (name) WHERE parent_id IS NULL;
CREATE UNIQUE INDEX areas_unique_code ON areas (county_id, code) WHERE code IS NOT NULL;
CREATE INDEX areas_path ON areas USING gin (path);
CREATE INDEX areas_parent ON areas (parent_id, id);
CREATE INDEX areas_level ON areas (county_id, level, id);
CREATE INDEX areas_name_trgm ON areas USING gin (name gin_trgm_ops);

-- Which level may stand under which: a compound sits in a district or directly in its community.
CREATE TABLE area_level_parents (
    level        text NOT NULL,
    parent_level text NOT NULL,
    PRIMARY KEY (level, parent_level)
);
INSERT INTO area_level_parents VALUES
    ('TOWN', 'COUNTY'), ('COMMUNITY', 'TOWN'), ('DISTRICT', 'COMMUNITY'),
    ('COMPOUND', 'DISTRICT'), ('COMPOUND', 'COMMUNITY'), ('BUILDING', 'COMPOUND'), ('UNIT', 'BUILDING');

CREATE FUNCTION areas_place() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    parent record;
BEGIN
    IF NEW.parent_id IS NULL THEN
        NEW.county_id := NEW.id;
        NEW.path := ARRAY[NEW.id];
        RETURN NEW;
    END IF;
    SELECT id, level, county_id, path INTO parent FROM areas WHERE id = NEW.parent_id;
    IF NOT EXISTS (SELECT 1 FROM area_level_parents WHERE level = NEW.level AND parent_level = parent.level) THEN
        RAISE EXCEPTION 'an area of level % cannot stand under one of level %', NEW.level, parent.level
            USING ERRCODE = 'check_violation', CONSTRAINT = 'areas_level_under_parent';
    END IF;
    NEW.county_id := parent.county_id;
    NEW.path := parent.path || NEW.id;
    RETURN NEW;
END $$;

CREATE TRIGGER areas_place BEFORE INSERT OR UPDATE OF parent_id, level ON areas
    FOR EACH ROW EXECUTE FUNCTION areas_place();

-- Moving an area is not offered: paths of whole subtrees would have to follow.
CREATE FUNCTION areas_no_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.parent_id IS DISTINCT FROM OLD.parent_id THEN
        RAISE EXCEPTION 'areas cannot be moved to another parent' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER areas_no_move BEFORE UPDATE OF parent_id ON areas
    FOR EACH ROW EXECUTE FUNCTION areas_no_move();

CREATE TABLE organisations (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    county_id   bigint NOT NULL REFERENCES areas (id),
    parent_id   bigint REFERENCES organisations (id),
    kind        text NOT NULL CHECK (kind IN (
        'GENERAL_BRANCH', 'PARTY_BRANCH', 'FUNCTIONAL_BRANCH', 'RESIDENTS_COMMITTEE', 'OWNER_COMMITTEE',
        'GOVERNMENT_UNIT', 'ENTERPRISE', 'PUBLIC_INSTITUTION', 'PROPERTY_COMPANY', 'SERVICE_PROVIDER',
        'SOCIAL_ORGANISATION')),
    name        text NOT NULL CHECK (btrim(name) <> ''),
    code        text,
    -- the area an organisation of the community is attached to (community, district, compound);
    -- units, property companies and service providers stand outside the tree
    area_id     bigint REFERENCES areas (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (kind NOT IN ('GENERAL_BRANCH', 'RESIDENTS_COMMITTEE', 'FUNCTIONAL_BRANCH', 'OWNER_COMMITTEE') OR area_id IS NOT NULL),
    CHECK (kind NOT IN ('GOVERNMENT_UNIT', 'ENTERPRISE', 'PUBLIC_INSTITUTION', 'PROPERTY_COMPANY', 'SERVICE_PROVIDER')
           OR area_id IS NULL)
);
CREATE UNIQUE INDEX organisations_unique_name ON organisations (county_id, name);
CREATE UNIQUE INDEX organisations_unique_code ON organisations (county_id, code) WHERE code IS NOT NULL;
CREATE INDEX organisations_parent ON organisations (parent_id, id);
CREATE INDEX organisations_area ON organisations (area_id);
CREATE INDEX organisations_kind ON organisations (county_id, kind, id);
CREATE INDEX organisations_name_trgm ON organisations USING gin (name gin_trgm_ops);

-- A compound's property manager, owner committee and functional branch
ALTER TABLE areas ADD COLUMN property_manager_id bigint REFERENCES organisations (id);

CREATE TABLE households (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    county_id   bigint NOT NULL REFERENCES areas (id),
    -- the building, or the stairwell unit of the building, the dwelling is in
    area_id     bigint NOT NULL REFERENCES areas (id),
    building_id bigint NOT NULL REFERENCES areas (id),
    label       text NOT NULL CHECK (btrim(label) <> ''),
    code        text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX households_unique_label ON households (area_id, label);
CREATE UNIQUE INDEX households_unique_code ON households (county_id, code) WHERE code IS NOT NULL;
CREATE INDEX households_building ON households (building_id, id);

CREATE TABLE persons (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    county_id      bigint NOT NULL REFERENCES areas (id),
    name           text NOT NULL CHECK (btrim(name) <> ''),
    phone          text CHECK (phone ~ '^[0-9+\- ]{5,20}$'),
    id_number      text CHECK (id_number ~ '^[0-9]{17}[0-9X]$'),
    gender         text CHECK (gender IN ('FEMALE', 'MALE')),
    birth_year     integer CHECK (birth_year BETWEEN 1900 AND 2100),
    household_id   bigint REFERENCES households (id),
    party_member   boolean NOT NULL DEFAULT false,
    -- sensitive tags: health, hardship (低保, 独居老人, 残疾 ...)
    tags           text[] NOT NULL DEFAULT '{}',
    code           text,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX persons_unique_code ON persons (county_id, code) WHERE code IS NOT NULL;
CREATE UNIQUE INDEX persons_unique_id_number ON persons (id_number) WHERE id_number IS NOT NULL;
CREATE INDEX persons_household ON persons (household_id, id);
CREATE INDEX persons_name_trgm ON persons USING gin (name gin_trgm_ops);

-- Posts: a person's membership of an organisation, with a role and dates.
CREATE TABLE posts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    county_id       bigint NOT NULL REFERENCES areas (id),
    person_id       bigint NOT NULL REFERENCES persons (id),
    organisation_id bigint NOT NULL REFERENCES organisations (id),
    role            text NOT NULL CHECK (btrim(role) <> ''),
    since           date NOT NULL,
    until           date,
    CHECK (until IS NULL OR until >= since)
);
CREATE UNIQUE INDEX posts_unique_active ON posts (person_id, organisation_id, role) WHERE until IS NULL;
CREATE INDEX posts_organisation ON posts (organisation_id, id) WHERE until IS NULL;
CREATE INDEX posts_person ON posts (person_id) WHERE until IS NULL;

-- Who is responsible for an area, and who was when: the seven-level responsibility chain.
CREATE TABLE responsibilities (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    county_id   bigint NOT NULL REFERENCES areas (id),
    area_id     bigint NOT NULL REFERENCES areas (id),
    person_id   bigint NOT NULL REFERENCES persons (id),
    since       timestamptz NOT NULL DEFAULT now(),
    until       timestamptz,
    assigned_by bigint,
    CHECK (until IS NULL OR until >= since)
);
CREATE UNIQUE INDEX responsibilities_one_current ON responsibilities (area_id) WHERE until IS NULL;
CREATE INDEX responsibilities_person ON responsibilities (person_id) WHERE until IS NULL;
